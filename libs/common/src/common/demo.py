"""The demo province every service loads for the run command: its shape and its ids.

A fictional Sở GDĐT tỉnh Bình Lâm with two district offices, a primary and a lower-secondary
school under each, and an upper-secondary school and the provincial continuing-education centre
under the department. Names are made up.

Ids are derived from codes and usernames (UUID 5), so each service's demo loader names the same
units and people without reading another service's database, and in any order: identity creates
the accounts, records the classes they teach, both with the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from common.auth import Grant, Principal
from common.events.identity import OrgLevel, OrgUnitCreated

DEMO_NAMESPACE: Final = uuid.UUID("6b0f3f0e-2a47-5e0b-9d3a-8f1c2b7a4e10")
PASSWORD_ENV: Final = "HSDT_DEMO_PASSWORD"  # noqa: S105 — the variable's name
PROVINCE_CODE: Final = "BL"
PROVINCE_NAME: Final = "Sở Giáo dục và Đào tạo tỉnh Bình Lâm"
PROVINCE_ADMIN: Final = "quantri.so"


def demo_id(kind: str, key: str) -> uuid.UUID:
    """The id of a demo unit (``kind`` "unit", ``key`` its code) or account ("user", username)."""
    return uuid.uuid5(DEMO_NAMESPACE, f"{kind}:{key}")


@dataclass(frozen=True, slots=True)
class DemoSchool:
    code: str
    name: str
    levels: tuple[str, ...]  # identity's school levels: primary, lower_secondary, …
    team: str


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    code: str
    name: str
    schools: tuple[DemoSchool, ...] = field(default=())


DISTRICTS: Final = (
    DemoDistrict(
        "BL-DX",
        "Phòng Giáo dục và Đào tạo huyện Đồng Xoài Mới",
        (
            DemoSchool("BL-DX-TH01", "Trường Tiểu học Tân Phú", ("primary",), "Tổ khối 1"),
            DemoSchool(
                "BL-DX-THCS01", "Trường THCS Lê Quý Đôn", ("lower_secondary",), "Tổ Toán - Tin"
            ),
        ),
    ),
    DemoDistrict(
        "BL-PL",
        "Phòng Giáo dục và Đào tạo thị xã Phước Lâm",
        (
            DemoSchool("BL-PL-TH01", "Trường Tiểu học Hòa Lợi", ("primary",), "Tổ khối 4-5"),
            DemoSchool(
                "BL-PL-THCS01", "Trường THCS Nguyễn Trãi", ("lower_secondary",), "Tổ Ngữ văn"
            ),
        ),
    ),
)
DEPARTMENT_SCHOOLS: Final = (
    DemoSchool(
        "BL-THPT01", "Trường THPT Chu Văn An", ("upper_secondary",), "Tổ Vật lý - Công nghệ"
    ),
    DemoSchool(
        "BL-GDTX",
        "Trung tâm Giáo dục thường xuyên tỉnh Bình Lâm",
        ("provincial_continuing_centre",),
        "Tổ Văn hóa",
    ),
)
# (username prefix, full name, role) of each school's staff. In the records demo gv1 teaches
# every subject of the school's classes and gv2 is their homeroom teacher (GVCN).
SCHOOL_STAFF: Final = (
    ("hieutruong", "Nguyễn Thị Hồng Nhung", "school_leader"),
    ("quantri", "Trần Văn Bình", "school_admin"),
    ("gv1", "Lê Thị Thu Hà", "teacher"),
    ("gv2", "Phạm Minh Đức", "teacher"),
)


def username(school_code: str, prefix: str) -> str:
    """Demo accounts are named ``<prefix>.<code>``: ``gv1.bldxthcs01``."""
    return f"{prefix}.{school_code.lower().replace('-', '')}"


def all_schools() -> tuple[tuple[DemoDistrict | None, DemoSchool], ...]:
    """Every demo school with its district (None under the department)."""
    inside = tuple((d, s) for d in DISTRICTS for s in d.schools)
    return inside + tuple((None, s) for s in DEPARTMENT_SCHOOLS)


def org_events(at: datetime) -> Iterator[OrgUnitCreated]:
    """The demo's org tree as identity's events bring it. Each service's demo loads it through
    its own consumer too, so that the demo does not wait for a worker (the consumers' upserts
    make the second arrival a no-op)."""
    province = demo_id("unit", PROVINCE_CODE)

    def event(  # noqa: PLR0917 - the event's fields, in its order
        unit: uuid.UUID,
        kind: OrgLevel,
        code: str,
        parent: uuid.UUID | None,
        district: uuid.UUID | None,
        levels: tuple[str, ...] = (),
        name: str | None = None,
    ) -> OrgUnitCreated:
        return OrgUnitCreated(
            unit_id=unit,
            kind=kind,
            code=code,
            name=name,
            parent_id=parent,
            levels=list(levels),
            province_id=province,
            district_id=district,
            created_at=at,
            created_by=None,
        )

    yield event(province, OrgLevel.PROVINCE, PROVINCE_CODE, None, None, name=PROVINCE_NAME)
    for demo_district in DISTRICTS:
        unit = demo_id("unit", demo_district.code)
        yield event(
            unit, OrgLevel.DISTRICT, demo_district.code, province, unit, name=demo_district.name
        )
    for district, school in all_schools():
        office = demo_id("unit", district.code) if district else None
        yield event(
            demo_id("unit", school.code),
            OrgLevel.SCHOOL,
            school.code,
            office or province,
            office,
            school.levels,
            name=school.name,
        )


def demo_principal(user: str, role: str, unit: uuid.UUID) -> Principal:
    """A demo account signed in with one grant: how a service's demo loader acts as a person,
    through the same handlers (and checks) as a request."""
    return Principal(
        subject=str(demo_id("user", user)),
        kind="user",
        grants=(Grant(role, str(unit)),),
        token_id=f"demo-{uuid.uuid4().hex}",
        expires_at=datetime.now(UTC) + timedelta(minutes=5),
    )
