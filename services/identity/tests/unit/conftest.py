"""A small province for the worked examples of the identity domain rules."""

from __future__ import annotations

import uuid

import pytest

from common.events.identity import OrgLevel
from identity.domain import OrgTree, OrgUnit, SchoolLevel


def _id(code: str) -> uuid.UUID:
    # Stable ids, so a failing example names the same unit on every run.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"hsdt-test:{code}")


@pytest.fixture
def tree() -> OrgTree:
    """Department 79; districts 760 and 761 with schools; a THPT and the GDTX centre under
    the department."""
    province = OrgUnit(_id("79"), OrgLevel.PROVINCE, "79", "Sở Giáo dục và Đào tạo")

    def district(code: str, name: str) -> OrgUnit:
        return OrgUnit(_id(code), OrgLevel.DISTRICT, code, name, province.id)

    def school(code: str, name: str, parent: OrgUnit, *levels: SchoolLevel) -> OrgUnit:
        return OrgUnit(_id(code), OrgLevel.SCHOOL, code, name, parent.id, frozenset(levels))

    d760 = district("760", "Phòng GDĐT Quận Một")
    d761 = district("761", "Phòng GDĐT Quận Hai")
    return OrgTree.build(
        [
            province,
            d760,
            d761,
            school("76001", "Trường Tiểu học Kim Đồng", d760, SchoolLevel.PRIMARY),
            school("76002", "Trường THCS Lê Lợi", d760, SchoolLevel.LOWER_SECONDARY),
            school("76101", "Trường Tiểu học Hòa Bình", d761, SchoolLevel.PRIMARY),
            school("79001", "Trường THPT Nguyễn Du", province, SchoolLevel.UPPER_SECONDARY),
            school(
                "79002",
                "Trung tâm GDTX tỉnh",
                province,
                SchoolLevel.PROVINCIAL_CONTINUING_CENTRE,
            ),
        ]
    )
