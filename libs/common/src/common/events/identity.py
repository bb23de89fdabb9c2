"""Events published by ``services/identity``: accounts and the grants that scope them.

Identity owns the org tree (province → district → school), so the org-scope field types that
every other producer reuses are defined here.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field, StringConstraints

from common.events.base import IntegrationEvent

ProvinceId = Annotated[
    uuid.UUID,
    Field(description="Org unit id of the province (Sở GDĐT) the event belongs to."),
]
# Required but nullable on purpose: schools under the department (THPT, GDTX) have no district
# tier (R4), and a producer must say so rather than forget the field.
DistrictId = Annotated[
    uuid.UUID | None,
    Field(
        description=(
            "Org unit id of the district office (Phòng GDĐT); null when the school or account "
            "reports to the province directly (THPT, GDTX) or sits at province level."
        )
    ),
]
SchoolId = Annotated[uuid.UUID, Field(description="Org unit id of the school.")]


class OrgLevel(StrEnum):
    """Tier of the org tree (R4): Sở GDĐT, Phòng GDĐT, or a school."""

    PROVINCE = "province"
    DISTRICT = "district"
    SCHOOL = "school"


class Role(StrEnum):
    """Role of a grant; the resource owner's own check (who teaches which class) comes on top.

    Inspectors (thanh tra, kiểm tra) read everything in their scope and change nothing.

    ``archivist`` is the one platform role: held only by a platform service client (the archive
    service) at a province, never granted to a person or a group, so no ``GrantChanged`` carries
    it. Its token acts for the person whose action it carries out (R23).
    """

    PROVINCE_ADMIN = "province_admin"
    PROVINCE_INSPECTOR = "province_inspector"
    DISTRICT_ADMIN = "district_admin"
    DISTRICT_INSPECTOR = "district_inspector"
    SCHOOL_ADMIN = "school_admin"
    SCHOOL_LEADER = "school_leader"
    TEACHER = "teacher"
    STAFF = "staff"
    ARCHIVIST = "archivist"


class DisableReason(StrEnum):
    """Why an account was disabled; a code, never free text, so no personal detail leaks."""

    LEFT_ORGANISATION = "left_organisation"
    SUSPENDED = "suspended"
    SECURITY = "security"


class GranteeKind(StrEnum):
    """Who receives a grant (R33): a person, a group, a team (tổ) or a department (bộ phận)."""

    USER = "user"
    GROUP = "group"
    TEAM = "team"
    DEPARTMENT = "department"


class GrantChange(StrEnum):
    """A grant is given or taken away; a change of scope is a revoke plus a grant."""

    GRANTED = "granted"
    REVOKED = "revoked"


class UserCreated(IntegrationEvent):
    """An account (tài khoản người dùng) was created in an org unit.

    Published when identity commits a new user account, whether an administrator created it or
    the platform did at installation or import. Carries ids only: names and contact details stay
    in identity.
    """

    event_type: ClassVar[str] = "vn.hsdt.identity.user.created.v1"
    subject_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID = Field(description="Id of the new account.")
    org_level: OrgLevel = Field(description="Tier of the org unit the account belongs to.")
    province_id: ProvinceId
    district_id: DistrictId
    school_id: uuid.UUID | None = Field(
        description="Org unit id of the school; null for province and district accounts."
    )
    created_at: AwareDatetime = Field(description="When the account was created.")
    created_by: uuid.UUID | None = Field(
        description=(
            "User id of the administrator who created the account; null when the platform did "
            "(the first province administrator at installation, a bulk import)."
        )
    )


class UserDisabled(IntegrationEvent):
    """An account was disabled (khóa tài khoản); its tokens stop working at once.

    Published when identity disables an account. Every service that caches token checks must
    refuse tokens of this user issued before ``disabled_at``.
    """

    event_type: ClassVar[str] = "vn.hsdt.identity.user.disabled.v1"
    subject_field: ClassVar[str] = "user_id"

    user_id: uuid.UUID = Field(description="Id of the disabled account.")
    org_level: OrgLevel = Field(description="Tier of the org unit the account belongs to.")
    province_id: ProvinceId
    district_id: DistrictId
    school_id: uuid.UUID | None = Field(
        description="Org unit id of the school; null for province and district accounts."
    )
    reason: DisableReason = Field(description="Why the account was disabled.")
    disabled_at: AwareDatetime = Field(
        description="When the account was disabled; tokens issued before it are revoked."
    )
    disabled_by: uuid.UUID | None = Field(
        description=(
            "User id of the administrator who disabled the account; null when a security rule "
            "of the platform did."
        )
    )


class GrantChanged(IntegrationEvent):
    """A role was granted or revoked at an org scope (phân quyền, R33).

    Published when identity commits a grant or its revocation. The grant's scope is the deepest
    non-null of ``province_id`` / ``district_id`` / ``school_id``, as ``scope_level`` says.
    """

    event_type: ClassVar[str] = "vn.hsdt.identity.grant.changed.v1"
    # Ordered per grantee, so a consumer replays one person's or group's grants in order.
    subject_field: ClassVar[str] = "grantee_id"

    grant_id: uuid.UUID = Field(description="Id of the grant.")
    change: GrantChange = Field(description="Whether the grant was given or revoked.")
    grantee_kind: GranteeKind = Field(description="What kind of principal holds the grant.")
    grantee_id: uuid.UUID = Field(description="Id of the user, group, team or department.")
    role: Role = Field(description="The role granted or revoked.")
    scope_level: OrgLevel = Field(description="Tier of the org unit the grant applies to.")
    province_id: ProvinceId
    district_id: DistrictId
    school_id: uuid.UUID | None = Field(
        description="Org unit id of the school; null when the scope is a district or province."
    )
    changed_at: AwareDatetime = Field(description="When the grant was given or revoked.")
    changed_by: uuid.UUID = Field(description="User id of the administrator who changed it.")


class OrgUnitCreated(IntegrationEvent):
    """An org unit (đơn vị) was added to the tree: the department, a district office or a school.

    Published when identity commits a new unit, so other services can keep their own copy of the
    tree (which schools a district holds, a school's levels). Since catalogue 1.7 it also carries
    the unit's official name, which archive prints on the documents: an institution's name is
    public, not personal data.
    """

    event_type: ClassVar[str] = "vn.hsdt.identity.orgunit.created.v1"
    subject_field: ClassVar[str] = "unit_id"

    unit_id: uuid.UUID = Field(description="Id of the new org unit.")
    kind: OrgLevel = Field(description="Tier of the new unit.")
    code: str = Field(
        pattern=r"^[A-Z0-9]+(?:[-_][A-Z0-9]+)*$",
        description="The unit's code: upper-case letters and digits in groups joined by - or _.",
    )
    parent_id: uuid.UUID | None = Field(
        description="Id of the unit directly above it; null for the department itself."
    )
    name: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = Field(
        default=None,
        description="Official name, e.g. Trường THCS Lê Quý Đôn (added in catalogue 1.7).",
    )
    levels: list[str] = Field(
        description=(
            "A school's levels (preschool, primary, lower_secondary, upper_secondary, "
            "multi_level, vocational_continuing_centre, provincial_continuing_centre); "
            "empty for a district."
        )
    )
    province_id: ProvinceId
    district_id: DistrictId
    created_at: AwareDatetime = Field(description="When the unit was created.")
    created_by: uuid.UUID | None = Field(
        description="User id of the administrator who created it; null when the platform did."
    )
