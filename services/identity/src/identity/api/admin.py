"""Administration of the org tree, accounts, groups, grants and the audit of a scope.

``ENDPOINT_RULES`` is the one table of who may call what: each route's roles and how its scope
is decided. Routes read their row from it and the handlers enforce it against the caller's
grants as stored now (the token only says who the caller is); the authorization-matrix test
generates its cases from it, and a route without a row fails that test.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from common.auth import CurrentPrincipal, Principal
from common.errors import Problem, http_problem, problem_responses
from common.events.identity import DisableReason, GranteeKind, OrgLevel, Role
from identity.domain import DomainError, GrantRefusedError, SchoolLevel
from identity.handlers import admin as handlers
from identity.handlers.admin import Actor, Authority, ConflictError, ForbiddenError, NotFoundError
from identity.keys import MAX_ACCESS_TOKEN_LIFETIME
from identity.models import AuditRow, ClientRow, GrantRow, GroupRow, OrgUnitRow, UserRow
from identity.revocation import RevocationList
from identity.uow import IdentityUnitOfWork

router = APIRouter(tags=["admin"])

# --- who may call what

ADMINS: Final = frozenset(
    {Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN, Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN}
)
INSPECTORS: Final = frozenset({Role.PROVINCE_INSPECTOR, Role.DISTRICT_INSPECTOR})
READERS: Final = ADMINS | INSPECTORS
GRANTORS: Final = frozenset(
    {Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN, Role.SCHOOL_LEADER, Role.SCHOOL_ADMIN}
)


class ScopeRule(StrEnum):
    """How a route's scope is decided, given the caller's grants of the rule's roles."""

    PARENT = "parent"  # the new unit's parent lies in a unit where the caller holds a role
    UNIT = "unit"  # the unit the request names (or the resource lives in) does
    SUBTREE = "subtree"  # a listing: only what lies under the caller's units (?unit= narrows)
    ACCOUNT = "account"  # UNIT at the account's home unit, and every grant it holds revocable
    NO_ESCALATION = "no_escalation"  # domain.can_grant / can_revoke: role and unit both


@dataclass(frozen=True, slots=True)
class EndpointRule:
    roles: frozenset[Role]
    scope: ScopeRule
    writes: bool


ENDPOINT_RULES: Final[dict[tuple[str, str], EndpointRule]] = {
    # A district admin adds schools to their district; only the department adds districts and
    # department schools (their parent is the department, which no district admin holds).
    ("POST", "/org-units"): EndpointRule(
        frozenset({Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN}), ScopeRule.PARENT, writes=True
    ),
    ("GET", "/org-units"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    ("GET", "/org-units/{unit_id}"): EndpointRule(READERS, ScopeRule.UNIT, writes=False),
    # Names and school years are the authorities' to set, not a school's own.
    ("PATCH", "/org-units/{unit_id}"): EndpointRule(
        frozenset({Role.PROVINCE_ADMIN, Role.DISTRICT_ADMIN}), ScopeRule.UNIT, writes=True
    ),
    ("POST", "/users"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=True),
    ("GET", "/users"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    ("GET", "/users/{user_id}"): EndpointRule(READERS, ScopeRule.UNIT, writes=False),
    ("POST", "/users/{user_id}/disable"): EndpointRule(ADMINS, ScopeRule.ACCOUNT, writes=True),
    ("POST", "/users/{user_id}/password-reset"): EndpointRule(
        ADMINS, ScopeRule.ACCOUNT, writes=True
    ),
    # Same rule as a password reset: the second factor is the other half of the credentials.
    ("POST", "/users/{user_id}/totp-reset"): EndpointRule(ADMINS, ScopeRule.ACCOUNT, writes=True),
    ("POST", "/groups"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=True),
    ("GET", "/groups"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    ("POST", "/groups/{group_id}/members"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=True),
    ("DELETE", "/groups/{group_id}/members/{user_id}"): EndpointRule(
        ADMINS, ScopeRule.UNIT, writes=True
    ),
    ("POST", "/grants"): EndpointRule(GRANTORS, ScopeRule.NO_ESCALATION, writes=True),
    ("POST", "/grants/{grant_id}/revoke"): EndpointRule(
        GRANTORS, ScopeRule.NO_ESCALATION, writes=True
    ),
    ("GET", "/grants"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    ("GET", "/audit"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    # Bulk import (api.imports): POST /users's rule for every row's unit, POST /grants's for
    # every row's role.
    ("GET", "/imports/staff/template"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=False),
    ("POST", "/imports/staff"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=True),
    # School software: bound to one school; every scope must be a role the caller could grant
    # there (domain.can_grant), so a client never holds more than its creator could hand out.
    ("POST", "/clients"): EndpointRule(ADMINS, ScopeRule.NO_ESCALATION, writes=True),
    ("GET", "/clients"): EndpointRule(READERS, ScopeRule.SUBTREE, writes=False),
    ("POST", "/clients/{client_id}/disable"): EndpointRule(ADMINS, ScopeRule.UNIT, writes=True),
}
# Inspectors read, never write: checked once here rather than trusted to every row.
assert all(not (rule.roles & INSPECTORS) for rule in ENDPOINT_RULES.values() if rule.writes)


def _rule(method: str, path: str) -> frozenset[Role]:
    return ENDPOINT_RULES[(method, path)].roles


# --- dependencies


def get_uow(request: Request) -> IdentityUnitOfWork:
    uow = request.app.state.deps.uow_factory()
    assert isinstance(uow, IdentityUnitOfWork)
    return uow


def get_revoker(request: Request) -> RevocationList:
    deps = request.app.state.deps
    return RevocationList(deps.redis, deps.settings.redis_prefix, MAX_ACCESS_TOKEN_LIFETIME)


UowDep = Annotated[IdentityUnitOfWork, Depends(get_uow)]
RevokerDep = Annotated[RevocationList, Depends(get_revoker)]


def _actor(principal: Principal, request: Request) -> Actor:
    # School software (a client, even acting for a teacher) does not administer accounts.
    if principal.kind != "user":
        raise http_problem(403, "Administration needs a user's token, not a client's")
    try:
        user_id = uuid.UUID(principal.subject)
    except ValueError:
        raise http_problem(403, "Token subject is not a user id") from None
    host = request.client.host if request.client else None
    return Actor(user_id, host)


def get_actor(principal: CurrentPrincipal, request: Request) -> Actor:
    return _actor(principal, request)


ActorDep = Annotated[Actor, Depends(get_actor)]


def problem_of(exc: DomainError) -> Problem:
    code = exc.code.replace("_", "-")
    status = 422
    if isinstance(exc, GrantRefusedError | ForbiddenError):
        status = 403
    elif isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, ConflictError):
        status = 409
    return Problem(status, code, exc.title_vi, exc.detail or None)


# --- paging

T = TypeVar("T")
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise http_problem(400, "Malformed cursor") from None


def _uuid_cursor(cursor: str | None) -> uuid.UUID | None:
    key = decode_cursor(cursor)
    try:
        return None if key is None else uuid.UUID(key)
    except ValueError:
        raise http_problem(400, "Malformed cursor") from None


Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _page(items: list[Any], limit: int, key: Any) -> tuple[list[Any], str | None]:
    if len(items) > limit:
        items = items[:limit]
        return items, encode_cursor(str(key(items[-1])))
    return items, None


# --- schemas


class OrgUnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: OrgLevel = Field(description="district or school")
    code: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=300, description="Vietnamese name; stored NFC")
    parent_id: uuid.UUID
    levels: list[SchoolLevel] = Field(default_factory=list, description="A school's levels")
    school_years: list[Annotated[str, Field(pattern=r"^\d{4}-\d{4}$")]] = Field(
        default_factory=list
    )


class OrgUnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        default=None, min_length=1, max_length=300, description="Vietnamese name; stored NFC"
    )
    school_years: list[Annotated[str, Field(pattern=r"^\d{4}-\d{4}$")]] | None = Field(
        default=None, description="The active school years, replacing the current list"
    )

    @field_validator("school_years")
    @classmethod
    def _consecutive(cls, years: list[str] | None) -> list[str] | None:
        for year in years or []:
            start, end = year.split("-")
            if int(end) != int(start) + 1:
                raise ValueError(f"{year}: a school year spans two consecutive years")
        return years


class OrgUnitRead(BaseModel):
    id: uuid.UUID
    kind: OrgLevel
    code: str
    name: str
    parent_id: uuid.UUID | None
    levels: list[str]
    school_years: list[str]

    @classmethod
    def of(cls, row: OrgUnitRow) -> OrgUnitRead:
        return cls(
            id=row.id,
            kind=OrgLevel(row.kind),
            code=row.code,
            name=row.name,
            parent_id=row.parent_id,
            levels=list(row.levels),
            school_years=list(row.school_years),
        )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    full_name: str = Field(min_length=1, max_length=300, description="Stored in Unicode NFC")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    home_unit_id: uuid.UUID
    unit_ids: list[uuid.UUID] = Field(default_factory=list, description="Other units of work")
    initial_password: str | None = Field(
        default=None,
        max_length=256,
        description="Checked by the password policy and to be changed at first sign-in; "
        "omitted: the account has no password until an admin resets it",
    )


class UserRead(BaseModel):
    id: uuid.UUID
    username: str
    full_name: str
    email: str | None
    status: str
    disabled_reason: str | None
    home_unit_id: uuid.UUID
    unit_ids: list[uuid.UUID]

    @classmethod
    def of(cls, row: UserRow, unit_ids: list[uuid.UUID]) -> UserRead:
        return cls(
            id=row.id,
            username=row.username,
            full_name=row.full_name,
            email=row.email,
            status=row.status,
            disabled_reason=row.disabled_reason,
            home_unit_id=row.home_unit_id,
            unit_ids=unit_ids,
        )


class UserDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: DisableReason


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temporary_password: str = Field(min_length=1, max_length=256)


class GroupKind(StrEnum):
    GROUP = "group"
    TEAM = "team"  # tổ chuyên môn
    DEPARTMENT = "department"  # bộ phận
    ADMIN_BOARD = "admin_board"  # Ban quản trị HSĐT


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    unit_id: uuid.UUID
    kind: GroupKind
    name: str = Field(min_length=1, max_length=300)
    head_user_id: uuid.UUID | None = None
    member_ids: list[uuid.UUID] = Field(default_factory=list)


class GroupRead(BaseModel):
    id: uuid.UUID
    unit_id: uuid.UUID
    kind: str
    name: str
    head_user_id: uuid.UUID | None
    status: str
    member_ids: list[uuid.UUID]


class MemberAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: uuid.UUID


class GrantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role
    unit_id: uuid.UUID
    grantee_kind: GranteeKind
    grantee_id: uuid.UUID
    valid_from: AwareDatetime | None = Field(default=None, description="Default: now")
    valid_to: AwareDatetime | None = None


class GrantRead(BaseModel):
    id: uuid.UUID
    role: str
    unit_id: uuid.UUID
    grantee_kind: str
    grantee_id: uuid.UUID
    valid_from: datetime
    valid_to: datetime | None
    granted_by: uuid.UUID
    revoked_at: datetime | None
    revoked_by: uuid.UUID | None

    @classmethod
    def of(cls, row: GrantRow) -> GrantRead:
        return cls(
            id=row.id,
            role=row.role,
            unit_id=row.unit_id,
            grantee_kind=row.grantee_kind,
            grantee_id=row.grantee_id,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            granted_by=row.granted_by,
            revoked_at=row.revoked_at,
            revoked_by=row.revoked_by,
        )


class AuditRead(BaseModel):
    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    on_behalf_of: str | None
    unit_id: uuid.UUID | None
    action: str
    target: str | None
    outcome: str
    source_address: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, row: AuditRow) -> AuditRead:
        return cls(
            id=row.id,
            at=row.at,
            actor_kind=row.actor_kind,
            actor_id=row.actor_id,
            on_behalf_of=row.on_behalf_of,
            unit_id=row.unit_id,
            action=row.action,
            target=row.target,
            outcome=row.outcome,
            source_address=row.source_address,
            details=dict(row.details),
        )


class ClientCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    school_id: uuid.UUID
    scopes: list[str] = Field(
        min_length=1, max_length=8, description="Roles the software may act with: teacher, staff"
    )


class ClientRead(BaseModel):
    """A client as listed: never its secret (only a hash is stored)."""

    id: uuid.UUID
    client_id: str
    kind: Literal["school", "platform"] = Field(
        description="School software (bound to a school) or a platform service (the province)"
    )
    name: str
    unit_id: uuid.UUID = Field(description="The unit the client is bound to")
    school_id: uuid.UUID | None = Field(
        description="The school of school software; null for a platform client"
    )
    scopes: list[str]
    status: str
    created_at: datetime
    created_by: uuid.UUID

    @classmethod
    def of(cls, row: ClientRow) -> ClientRead:
        return cls(
            id=row.id,
            client_id=row.client_id,
            kind="platform" if row.kind == "platform" else "school",
            name=row.name,
            unit_id=row.unit_id,
            school_id=row.unit_id if row.kind == "school" else None,
            scopes=list(row.scopes),
            status=row.status,
            created_at=row.created_at,
            created_by=row.created_by,
        )


class ClientCreated(ClientRead):
    client_secret: str = Field(description="Shown once, now; it cannot be read again")


WRITE_PROBLEMS = problem_responses(401, 403, 404, 409, 422)
READ_PROBLEMS = problem_responses(400, 401, 403, 404, 422)


async def _authority(uow: IdentityUnitOfWork, actor: Actor) -> Authority:
    try:
        return await handlers.authority(uow, actor)
    except DomainError as exc:
        raise problem_of(exc) from None


def _checked(auth: Authority, roles: frozenset[Role], unit_id: uuid.UUID) -> None:
    if unit_id not in auth.tree:
        raise Problem(404, "org-unit-unknown", "Không tìm thấy đơn vị", str(unit_id))
    try:
        auth.require(roles, unit_id)
    except DomainError as exc:
        raise problem_of(exc) from None


def _scope(
    auth: Authority, roles: frozenset[Role], unit_id: uuid.UUID | None
) -> frozenset[uuid.UUID]:
    if unit_id is not None:
        _checked(auth, roles, unit_id)
    return auth.scope(roles, unit_id)


# --- org units


@router.post("/org-units", status_code=201, responses=WRITE_PROBLEMS)
async def create_org_unit(body: OrgUnitCreate, actor: ActorDep, uow: UowDep) -> OrgUnitRead:
    """Add a district office (Phòng GDĐT) or a school under its parent."""
    cmd = handlers.CreateOrgUnit(
        kind=body.kind,
        code=body.code,
        name=body.name,
        parent_id=body.parent_id,
        levels=frozenset(body.levels),
        school_years=tuple(body.school_years),
    )
    try:
        row = await handlers.create_org_unit(uow, actor, cmd, _rule("POST", "/org-units"))
    except DomainError as exc:
        raise problem_of(exc) from None
    return OrgUnitRead.of(row)


@router.get("/org-units", responses=READ_PROBLEMS)
async def list_org_units(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[OrgUnitRead]:
    """The units in the caller's scope (or under ``unit``), by code."""
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/org-units"), unit)
        rows = await uow.admin.units_page(units, decode_cursor(cursor), limit + 1)
    items, next_cursor = _page(list(rows), limit, lambda r: r.code)
    return Page[OrgUnitRead](items=[OrgUnitRead.of(r) for r in items], next_cursor=next_cursor)


@router.get("/org-units/{unit_id}", responses=READ_PROBLEMS)
async def get_org_unit(unit_id: uuid.UUID, actor: ActorDep, uow: UowDep) -> OrgUnitRead:
    async with uow:
        auth = await _authority(uow, actor)
        _checked(auth, _rule("GET", "/org-units/{unit_id}"), unit_id)
        row = await uow.admin.unit_row(unit_id)
    assert row is not None
    return OrgUnitRead.of(row)


@router.patch("/org-units/{unit_id}", responses=WRITE_PROBLEMS)
async def update_org_unit(
    unit_id: uuid.UUID, body: OrgUnitUpdate, actor: ActorDep, uow: UowDep
) -> OrgUnitRead:
    """Rename a unit or set its active school years (năm học); code and place stay."""
    cmd = handlers.UpdateOrgUnit(
        unit_id=unit_id,
        name=body.name,
        school_years=None if body.school_years is None else tuple(body.school_years),
    )
    try:
        row = await handlers.update_org_unit(
            uow, actor, cmd, _rule("PATCH", "/org-units/{unit_id}")
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    return OrgUnitRead.of(row)


# --- users


@router.post("/users", status_code=201, responses=WRITE_PROBLEMS)
async def create_user(body: UserCreate, actor: ActorDep, uow: UowDep) -> UserRead:
    """Create an account in the caller's scope; a UserCreated event follows."""
    cmd = handlers.CreateUser(
        username=body.username,
        full_name=body.full_name,
        home_unit_id=body.home_unit_id,
        unit_ids=tuple(body.unit_ids),
        email=None if body.email is None else str(body.email),
        password=body.initial_password,
    )
    try:
        row = await handlers.create_user(uow, actor, cmd, _rule("POST", "/users"))
    except DomainError as exc:
        raise problem_of(exc) from None
    return UserRead.of(row, sorted({row.home_unit_id, *body.unit_ids}))


@router.get("/users", responses=READ_PROBLEMS)
async def list_users(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[UserRead]:
    """Accounts whose home or work unit is in the caller's scope, by username."""
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/users"), unit)
        rows = await uow.admin.users_page(units, decode_cursor(cursor), limit + 1)
        items, next_cursor = _page(list(rows), limit, lambda r: r.username)
        unit_ids = await uow.admin.unit_ids_of([r.id for r in items])
        read = [UserRead.of(r, unit_ids[r.id]) for r in items]
    return Page[UserRead](items=read, next_cursor=next_cursor)


async def _user_in_scope(
    uow: IdentityUnitOfWork, actor: Actor, user_id: uuid.UUID, roles: frozenset[Role]
) -> UserRead:
    auth = await _authority(uow, actor)
    row = await uow.admin.user(user_id)
    if row is None:
        raise Problem(404, "user-unknown", "Không tìm thấy tài khoản", str(user_id))
    unit_ids = await uow.admin.user_unit_ids(row.id)
    if not auth.units_with(roles) & {row.home_unit_id, *unit_ids}:
        raise Problem(403, "outside-scope", "Không có quyền trên đơn vị này", str(user_id))
    return UserRead.of(row, unit_ids)


@router.get("/users/{user_id}", responses=READ_PROBLEMS)
async def get_user(user_id: uuid.UUID, actor: ActorDep, uow: UowDep) -> UserRead:
    async with uow:
        return await _user_in_scope(uow, actor, user_id, _rule("GET", "/users/{user_id}"))


@router.post("/users/{user_id}/disable", responses=WRITE_PROBLEMS)
async def disable_user(
    user_id: uuid.UUID, body: UserDisable, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> UserRead:
    """Disable an account: its tokens stop working at once; a UserDisabled event follows."""
    try:
        row = await handlers.disable_user(
            uow, actor, user_id, body.reason, _rule("POST", "/users/{user_id}/disable"), revoker
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    async with uow:
        return UserRead.of(row, await uow.admin.user_unit_ids(row.id))


@router.post("/users/{user_id}/password-reset", status_code=204, responses=WRITE_PROBLEMS)
async def reset_password(
    user_id: uuid.UUID, body: PasswordReset, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> None:
    """Set a temporary password (tell it to the user in person); it must be changed at the
    next sign-in, and the user's current tokens stop working."""
    try:
        await handlers.reset_password(
            uow,
            actor,
            user_id,
            body.temporary_password,
            _rule("POST", "/users/{user_id}/password-reset"),
            revoker,
        )
    except DomainError as exc:
        raise problem_of(exc) from None


# --- groups


async def _group_read(uow: IdentityUnitOfWork, row: GroupRow) -> GroupRead:
    return GroupRead(
        id=row.id,
        unit_id=row.unit_id,
        kind=row.kind,
        name=row.name,
        head_user_id=row.head_user_id,
        status=row.status,
        member_ids=await uow.admin.member_ids(row.id),
    )


@router.post("/groups", status_code=201, responses=WRITE_PROBLEMS)
async def create_group(body: GroupCreate, actor: ActorDep, uow: UowDep) -> GroupRead:
    """A team (tổ chuyên môn), department (bộ phận), admin board or plain group in a unit."""
    cmd = handlers.CreateGroup(
        unit_id=body.unit_id,
        kind=body.kind.value,
        name=body.name,
        head_user_id=body.head_user_id,
        member_ids=tuple(body.member_ids),
    )
    try:
        row = await handlers.create_group(uow, actor, cmd, _rule("POST", "/groups"))
    except DomainError as exc:
        raise problem_of(exc) from None
    async with uow:
        return await _group_read(uow, row)


@router.get("/groups", responses=READ_PROBLEMS)
async def list_groups(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[GroupRead]:
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/groups"), unit)
        rows = await uow.admin.groups_page(units, _uuid_cursor(cursor), limit + 1)
        items, next_cursor = _page(list(rows), limit, lambda r: r.id)
        read = [await _group_read(uow, r) for r in items]
    return Page[GroupRead](items=read, next_cursor=next_cursor)


@router.post("/groups/{group_id}/members", responses=WRITE_PROBLEMS)
async def add_member(
    group_id: uuid.UUID, body: MemberAdd, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> GroupRead:
    try:
        row = await handlers.change_member(
            uow,
            actor,
            group_id,
            body.user_id,
            _rule("POST", "/groups/{group_id}/members"),
            revoker,
            add=True,
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    async with uow:
        return await _group_read(uow, row)


@router.delete("/groups/{group_id}/members/{user_id}", responses=WRITE_PROBLEMS)
async def remove_member(
    group_id: uuid.UUID, user_id: uuid.UUID, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> GroupRead:
    try:
        row = await handlers.change_member(
            uow,
            actor,
            group_id,
            user_id,
            _rule("DELETE", "/groups/{group_id}/members/{user_id}"),
            revoker,
            add=False,
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    async with uow:
        return await _group_read(uow, row)


# --- grants


@router.post("/grants", status_code=201, responses=WRITE_PROBLEMS)
async def create_grant(body: GrantCreate, actor: ActorDep, uow: UowDep) -> GrantRead:
    """Grant a role at a unit to a user or a group: only roles the caller may grant, only
    inside the caller's scope (no escalation); a GrantChanged event follows."""
    cmd = handlers.GrantRole(
        role=body.role,
        unit_id=body.unit_id,
        grantee_kind=body.grantee_kind,
        grantee_id=body.grantee_id,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    try:
        row = await handlers.grant_role(uow, actor, cmd)
    except DomainError as exc:
        raise problem_of(exc) from None
    return GrantRead.of(row)


@router.post("/grants/{grant_id}/revoke", responses=WRITE_PROBLEMS)
async def revoke_grant(
    grant_id: uuid.UUID, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> GrantRead:
    """End a grant now; the grantee's tokens (each member's, for a group) stop working."""
    try:
        row = await handlers.revoke_grant(uow, actor, grant_id, revoker)
    except DomainError as exc:
        raise problem_of(exc) from None
    return GrantRead.of(row)


@router.get("/grants", responses=READ_PROBLEMS)
async def list_grants(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    grantee: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[GrantRead]:
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/grants"), unit)
        rows = await uow.admin.grants_page(units, grantee, _uuid_cursor(cursor), limit + 1)
    items, next_cursor = _page(list(rows), limit, lambda r: r.id)
    return Page[GrantRead](items=[GrantRead.of(r) for r in items], next_cursor=next_cursor)


# --- audit


@router.get("/audit", responses=READ_PROBLEMS)
async def query_audit(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    since: AwareDatetime | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[AuditRead]:
    """The audit of the caller's scope, newest first."""
    key = decode_cursor(cursor)
    try:
        before = None if key is None else int(key)
    except ValueError:
        raise http_problem(400, "Malformed cursor") from None
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/audit"), unit)
        rows = await uow.admin.audit_page(units, since, before, limit + 1)
    items, next_cursor = _page(list(rows), limit, lambda r: r.id)
    return Page[AuditRead](items=[AuditRead.of(r) for r in items], next_cursor=next_cursor)


@router.post("/users/{user_id}/totp-reset", status_code=204, responses=WRITE_PROBLEMS)
async def reset_totp(user_id: uuid.UUID, actor: ActorDep, uow: UowDep, revoker: RevokerDep) -> None:
    """Forget the account's second factor and recovery codes (a lost phone); the user's tokens
    stop working and the next sign-in enrols a new authenticator."""
    try:
        await handlers.reset_totp(
            uow, actor, user_id, _rule("POST", "/users/{user_id}/totp-reset"), revoker
        )
    except DomainError as exc:
        raise problem_of(exc) from None


# --- school-software clients


@router.post("/clients", status_code=201, responses=WRITE_PROBLEMS)
async def create_client(body: ClientCreate, actor: ActorDep, uow: UowDep) -> ClientCreated:
    """Register school software for one school (OAuth2 client credentials). The secret is in
    this answer only."""
    cmd = handlers.CreateClient(body.name, body.school_id, tuple(body.scopes))
    try:
        row, secret = await handlers.create_school_client(
            uow, actor, cmd, _rule("POST", "/clients")
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    return ClientCreated(**ClientRead.of(row).model_dump(), client_secret=secret)


@router.get("/clients", responses=READ_PROBLEMS)
async def list_clients(
    actor: ActorDep,
    uow: UowDep,
    unit: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> Page[ClientRead]:
    """School software registered in the caller's scope (or under ``unit``), by client id."""
    async with uow:
        auth = await _authority(uow, actor)
        units = _scope(auth, _rule("GET", "/clients"), unit)
        rows = await uow.admin.clients_page(units, decode_cursor(cursor), limit + 1)
    items, next_cursor = _page(list(rows), limit, lambda r: r.client_id)
    return Page[ClientRead](items=[ClientRead.of(r) for r in items], next_cursor=next_cursor)


@router.post("/clients/{client_id}/disable", responses=WRITE_PROBLEMS)
async def disable_client(
    client_id: str, actor: ActorDep, uow: UowDep, revoker: RevokerDep
) -> ClientRead:
    """Disable school software: no new token, and its current tokens stop working."""
    try:
        row = await handlers.disable_client(
            uow, actor, client_id, _rule("POST", "/clients/{client_id}/disable"), revoker
        )
    except DomainError as exc:
        raise problem_of(exc) from None
    return ClientRead.of(row)
