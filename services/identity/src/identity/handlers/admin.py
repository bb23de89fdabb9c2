"""Administration commands: org units, accounts, groups, grants (R4, R7, R9, R33).

Every command names its actor and the roles that may run it (``allowed``, from the route's
row in ``api.admin.ENDPOINT_RULES``). Authority is read from the database at the moment of
the command, never taken from the token: a grant revoked a minute ago no longer counts even
though the caller's token still lists it. Every change writes an audit row in the same
transaction as the change and its event.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, NoReturn, Protocol

from sqlalchemy.exc import IntegrityError

from common.events.identity import (
    DisableReason,
    GrantChange,
    GrantChanged,
    GranteeKind,
    OrgLevel,
    OrgUnitCreated,
    Role,
    UserCreated,
    UserDisabled,
)
from identity.domain import (
    DomainError,
    Grant,
    Grantee,
    GrantRefusedError,
    OrgTree,
    OrgUnit,
    PasswordContext,
    SchoolLevel,
    can_grant,
    can_revoke,
    check_grantable_to_people,
    check_password,
    normalise_name,
)
from identity.handlers.auth import CLIENT_SCOPES, create_client
from identity.models import ClientRow, GrantRow, GroupRow, OrgUnitRow, UserRow
from identity.passwords import PasswordHasher
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork


def _settings_default(name: str) -> int:
    default = IdentitySettings.model_fields[name].default
    assert isinstance(default, int)
    return default


# The same argon2id parameters sign-in uses (the settings' defaults, read without building
# the settings, which need the service's secrets); a deployment that overrides them gets
# these hashes upgraded at each account's next sign-in.
_hasher = PasswordHasher(
    time_cost=_settings_default("argon2_time_cost"),
    memory_kib=_settings_default("argon2_memory_kib"),
    parallelism=_settings_default("argon2_parallelism"),
    concurrency=_settings_default("argon2_concurrency"),
)
# Matches no password: argon2 hashes start with "$argon2".
UNUSABLE_PASSWORD_HASH: Final = "!"  # noqa: S105


async def hash_password(password: str) -> str:
    """argon2id off the event loop, as sign-in verifies it."""
    return await _hasher.hash(unicodedata.normalize("NFC", password))


class SubjectRevoker(Protocol):
    """``identity.revocation.RevocationList``'s one method administration needs."""

    async def revoke_subject(self, subject: str, at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs a command: a user (from the verified token) and where the request came from."""

    user_id: uuid.UUID
    source_address: str | None = None


class NotFoundError(DomainError):
    """The resource a request names does not exist (HTTP 404)."""


class ForbiddenError(DomainError):
    """The actor holds none of the roles the command needs over the unit (HTTP 403)."""


class ConflictError(DomainError):
    """The change clashes with what exists (a taken code or username; HTTP 409)."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Authority:
    """The actor's grants at this moment and the tree they apply to."""

    actor: Actor
    tree: OrgTree
    grants: tuple[Grant, ...]
    at: datetime = field(default_factory=_now)

    def units_with(self, roles: Collection[Role]) -> frozenset[uuid.UUID]:
        """Every unit in which the actor holds one of ``roles``: each grant's unit and below."""
        found: set[uuid.UUID] = set()
        for grant in self.grants:
            if grant.role in roles and grant.unit_id in self.tree:
                found.add(grant.unit_id)
                found.update(u.id for u in self.tree.descendants(grant.unit_id))
        return frozenset(found)

    def require(self, roles: Collection[Role], unit_id: uuid.UUID) -> None:
        if unit_id not in self.units_with(roles):
            raise ForbiddenError(
                "outside-scope",
                "Không có quyền trên đơn vị này",
                f"none of {sorted(roles)} is held over unit {unit_id}",
            )

    def scope(self, roles: Collection[Role], unit_id: uuid.UUID | None) -> frozenset[uuid.UUID]:
        """The units a listing may show: the actor's scope, cut to ``unit_id``'s subtree."""
        mine = self.units_with(roles)
        if unit_id is None:
            return mine
        self.require(roles, unit_id)
        return frozenset({unit_id, *(u.id for u in self.tree.descendants(unit_id))}) & mine

    def require_account(
        self, roles: Collection[Role], user: UserRow, held: Iterable[Grant]
    ) -> None:
        """No escalation over accounts: an admin manages an account only in their scope, and
        only if they could revoke every grant it holds (a school admin cannot take over the
        principal's account by resetting its password)."""
        self.require(roles, user.home_unit_id)
        for grant in held:
            if grant.unit_id in self.tree:
                decision = can_revoke(self.grants, grant, self.tree, self.at)
                if not decision.allowed:
                    raise GrantRefusedError(
                        "account-above-actor",
                        "Tài khoản có quyền cao hơn người thực hiện",
                        f"the account holds {grant.role} at {grant.unit_id}",
                    )


async def authority(uow: IdentityUnitOfWork, actor: Actor) -> Authority:
    tree = await uow.admin.tree()
    if tree is None:
        raise ForbiddenError("not-bootstrapped", "Hệ thống chưa được khởi tạo", "no department")
    at = _now()
    return Authority(actor, tree, await uow.admin.grants_held(actor.user_id, at), at)


def _unit(tree: OrgTree, unit_id: uuid.UUID) -> OrgUnit:
    unit = tree.find(unit_id)
    if unit is None:
        raise DomainError("org-unit-unknown", "Không tìm thấy đơn vị", str(unit_id))
    return unit


# Unique constraints whose violation is a racing duplicate of a check the handlers make first:
# two requests both pass the check, the second commit hits the constraint. Same answer as the
# check's: a 409 problem, never a 500.
_UNIQUE_CONFLICTS: Final = {
    "users_username_key": ("username-taken", "Tên đăng nhập đã được dùng"),
    "org_units_code_key": ("org-code-duplicate", "Mã đơn vị đã được dùng"),
    "group_name_in_unit": ("group-name-taken", "Tên nhóm đã có trong đơn vị"),
}


def conflict_of(exc: IntegrityError) -> ConflictError | None:
    """The conflict problem for a unique-constraint violation we know, else None."""
    cause = exc.orig
    name = getattr(cause, "constraint_name", None) or getattr(
        getattr(cause, "__cause__", None), "constraint_name", None
    )
    text = str(cause)
    for constraint, (code, title) in _UNIQUE_CONFLICTS.items():
        if name == constraint or (name is None and constraint in text):
            return ConflictError(code, title, f"{constraint} (a concurrent request won)")
    return None


def _raise_conflict(exc: IntegrityError) -> NoReturn:
    conflict = conflict_of(exc)
    if conflict is None:
        raise exc
    raise conflict from None


# --- org units


@dataclass(frozen=True, slots=True)
class CreateOrgUnit:
    kind: OrgLevel
    code: str
    name: str
    parent_id: uuid.UUID
    levels: frozenset[SchoolLevel] = frozenset()
    school_years: tuple[str, ...] = ()


async def create_org_unit(
    uow: IdentityUnitOfWork, actor: Actor, cmd: CreateOrgUnit, allowed: Collection[Role]
) -> OrgUnitRow:
    """A district under the department, or a school under a district or the department.

    The actor needs one of ``allowed`` over the *parent*: a district admin adds schools to their
    own district; only the department's admins reach the department, so only they add districts
    and department schools. Creating a unit grants nobody anything, so no escalation is possible.
    """
    try:
        async with uow:
            await uow.admin.lock_tree()
            auth = await authority(uow, actor)
            _unit(auth.tree, cmd.parent_id)
            auth.require(allowed, cmd.parent_id)
            if cmd.kind is OrgLevel.PROVINCE:
                raise DomainError(
                    "org-department-not-unique", "Mỗi hệ thống chỉ có một Sở GDĐT", "kind=province"
                )
            unit = OrgUnit(uuid.uuid4(), cmd.kind, cmd.code, cmd.name, cmd.parent_id, cmd.levels)
            if await uow.admin.unit_row_by_code(unit.code) is not None:
                raise ConflictError("org-code-duplicate", "Mã đơn vị đã được dùng", unit.code)
            tree = auth.tree.with_unit(unit)
            row = uow.admin.add_unit(unit, created_by=actor.user_id, school_years=cmd.school_years)
            scope = tree.scope_of(unit)
            uow.emit(
                OrgUnitCreated(
                    unit_id=unit.id,
                    kind=unit.kind,
                    code=unit.code,
                    name=unit.name,
                    parent_id=cmd.parent_id,
                    levels=sorted(level.value for level in unit.levels),
                    province_id=scope.province_id,
                    district_id=scope.district_id,
                    created_at=auth.at,
                    created_by=actor.user_id,
                )
            )
            uow.admin.audit(
                actor.user_id,
                "orgunit.create",
                unit.id,
                unit.code,
                {"kind": unit.kind.value, "parent_id": str(cmd.parent_id)},
                source_address=actor.source_address,
            )
            await uow.commit()
            return row
    except IntegrityError as exc:
        _raise_conflict(exc)


@dataclass(frozen=True, slots=True)
class UpdateOrgUnit:
    unit_id: uuid.UUID
    name: str | None = None
    # Replaces the list: a new school year is opened by sending the years still active.
    school_years: tuple[str, ...] | None = None


async def update_org_unit(
    uow: IdentityUnitOfWork, actor: Actor, cmd: UpdateOrgUnit, allowed: Collection[Role]
) -> OrgUnitRow:
    """Rename a unit or set its active school years; its code, kind and place never change.

    The actor needs one of ``allowed`` at the unit or above it.
    """
    async with uow:
        auth = await authority(uow, actor)
        unit = _unit(auth.tree, cmd.unit_id)
        auth.require(allowed, cmd.unit_id)
        row = await uow.admin.unit_row(cmd.unit_id)
        assert row is not None
        changed: dict[str, object] = {}
        if cmd.name is not None:
            # The domain value checks and normalises the name as at creation.
            renamed = OrgUnit(unit.id, unit.kind, unit.code, cmd.name, unit.parent_id, unit.levels)
            if renamed.name != row.name:
                row.name = renamed.name
                changed["name"] = True
        if cmd.school_years is not None and list(cmd.school_years) != list(row.school_years):
            row.school_years = sorted(set(cmd.school_years))
            changed["school_years"] = row.school_years
        if changed:
            uow.admin.audit(
                actor.user_id,
                "orgunit.update",
                unit.id,
                unit.code,
                changed,
                source_address=actor.source_address,
            )
        await uow.commit()
        return row


# --- users


@dataclass(frozen=True, slots=True)
class CreateUser:
    username: str
    full_name: str
    home_unit_id: uuid.UUID
    unit_ids: tuple[uuid.UUID, ...] = ()
    email: str | None = None
    # None: the account gets no usable password until an admin resets it.
    password: str | None = None
    # None: a fresh random id. Given by loaders whose ids other services derive too (the demo).
    user_id: uuid.UUID | None = None


def _normalise_username(raw: str) -> str:
    username = unicodedata.normalize("NFC", raw).strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise DomainError(
            "username-invalid",
            "Tên đăng nhập không hợp lệ",
            "letters, digits, '.', '_' and '-', at most 64 characters",
        )
    return username


def check_new_password(password: str, username: str, email: str | None) -> None:
    problems = check_password(
        password, user_context=PasswordContext(username=username, email=email or "")
    )
    if problems:
        raise DomainError(
            "password-rejected",
            problems[0].message_vi,
            "; ".join(p.code for p in problems),
        )


async def add_user(
    uow: IdentityUnitOfWork,
    cmd: CreateUser,
    tree: OrgTree,
    *,
    created_by: uuid.UUID | None,
    at: datetime,
    must_change_password: bool = True,
    source_address: str | None = None,
) -> UserRow:
    """Add an account inside an open unit of work (the API, bootstrap and the demo use it)."""
    username = _normalise_username(cmd.username)
    home = _unit(tree, cmd.home_unit_id)
    units = {home.id, *(_unit(tree, u).id for u in cmd.unit_ids)}
    try:
        full_name = normalise_name(cmd.full_name)
    except DomainError as exc:
        raise DomainError("full-name-invalid", "Họ và tên không hợp lệ", exc.detail) from None
    if await uow.admin.user_by_username(username) is not None:
        raise ConflictError("username-taken", "Tên đăng nhập đã được dùng", username)
    email = cmd.email.strip() if cmd.email else None
    password_hash = UNUSABLE_PASSWORD_HASH
    if cmd.password is not None:
        check_new_password(cmd.password, username, email)
        password_hash = await hash_password(cmd.password)
    row = UserRow(
        id=cmd.user_id or uuid.uuid4(),
        username=username,
        full_name=full_name,
        email=email,
        status="active",
        home_unit_id=home.id,
        created_by=created_by,
    )
    uow.admin.add_user(row, sorted(units))
    await uow.session.flush()
    await uow.admin.set_password(row.id, password_hash, must_change=must_change_password, at=at)
    scope = tree.scope_of(home)
    uow.emit(
        UserCreated(
            user_id=row.id,
            org_level=scope.level,
            province_id=scope.province_id,
            district_id=scope.district_id,
            school_id=scope.school_id,
            created_at=at,
            created_by=created_by,
        )
    )
    uow.admin.audit(
        created_by,
        "user.create",
        home.id,
        str(row.id),
        {"units": len(units)},
        source_address=source_address,
    )
    return row


async def create_user(
    uow: IdentityUnitOfWork, actor: Actor, cmd: CreateUser, allowed: Collection[Role]
) -> UserRow:
    """An admin creates an account in their scope (the home unit and every work unit).

    With a password, it must pass the policy and is to be changed at first sign-in anyway: the
    admin knows it.
    """
    try:
        async with uow:
            auth = await authority(uow, actor)
            for unit_id in (cmd.home_unit_id, *cmd.unit_ids):
                _unit(auth.tree, unit_id)
                auth.require(allowed, unit_id)
            row = await add_user(
                uow,
                cmd,
                auth.tree,
                created_by=actor.user_id,
                at=auth.at,
                source_address=actor.source_address,
            )
            await uow.commit()
            return row
    except IntegrityError as exc:
        _raise_conflict(exc)


async def _account(
    uow: IdentityUnitOfWork, auth: Authority, user_id: uuid.UUID, allowed: Collection[Role]
) -> UserRow:
    user = await uow.admin.user(user_id, for_update=True)
    if user is None:
        raise NotFoundError("user-unknown", "Không tìm thấy tài khoản", str(user_id))
    held = await uow.admin.grants_held(user.id, auth.at)
    auth.require_account(allowed, user, held)
    return user


async def disable_user(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    actor: Actor,
    user_id: uuid.UUID,
    reason: DisableReason,
    allowed: Collection[Role],
    revoker: SubjectRevoker,
) -> UserRow:
    """Disable an account; its tokens stop working at once (revocation list, then commit)."""
    async with uow:
        auth = await authority(uow, actor)
        user = await _account(uow, auth, user_id, allowed)
        if user.id == actor.user_id:
            raise DomainError("cannot-disable-self", "Không thể tự khóa tài khoản của mình")
        if user.status == "disabled":
            return user
        user.status = "disabled"
        user.disabled_reason = reason.value
        scope = auth.tree.scope_of(user.home_unit_id)
        uow.emit(
            UserDisabled(
                user_id=user.id,
                org_level=scope.level,
                province_id=scope.province_id,
                district_id=scope.district_id,
                school_id=scope.school_id,
                reason=reason,
                disabled_at=auth.at,
                disabled_by=actor.user_id,
            )
        )
        uow.admin.audit(
            actor.user_id,
            "user.disable",
            user.home_unit_id,
            str(user.id),
            {"reason": reason.value},
            source_address=actor.source_address,
        )
        # Redis first: if it fails nothing is committed; if the commit fails, the tokens were
        # revoked for nothing and the user signs in again, which fails safe.
        await revoker.revoke_subject(str(user.id), auth.at)
        await uow.commit()
        return user


async def reset_password(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    actor: Actor,
    user_id: uuid.UUID,
    temporary_password: str,
    allowed: Collection[Role],
    revoker: SubjectRevoker,
) -> UserRow:
    """An admin of the scope sets a temporary password; the user must change it at sign-in."""
    async with uow:
        auth = await authority(uow, actor)
        user = await _account(uow, auth, user_id, allowed)
        check_new_password(temporary_password, user.username, user.email)
        await uow.admin.set_password(
            user.id, await hash_password(temporary_password), must_change=True, at=auth.at
        )
        uow.admin.audit(
            actor.user_id,
            "user.password_reset",
            user.home_unit_id,
            str(user.id),
            source_address=actor.source_address,
        )
        await revoker.revoke_subject(str(user.id), auth.at)
        await uow.commit()
        return user


async def reset_totp(
    uow: IdentityUnitOfWork,
    actor: Actor,
    user_id: uuid.UUID,
    allowed: Collection[Role],
    revoker: SubjectRevoker,
) -> UserRow:
    """An admin of the scope (who could revoke every grant the account holds, as for a password
    reset) forgets the account's second factor and recovery codes and ends its sessions; the
    user enrols again at the next sign-in."""
    async with uow:
        auth = await authority(uow, actor)
        user = await _account(uow, auth, user_id, allowed)
        await uow.admin.clear_totp(user.id)
        uow.admin.audit(
            actor.user_id,
            "user.totp_reset",
            user.home_unit_id,
            str(user.id),
            source_address=actor.source_address,
        )
        await revoker.revoke_subject(str(user.id), auth.at)
        await uow.commit()
        return user


# --- groups

_GROUP_GRANTEE_KIND = {
    "group": GranteeKind.GROUP,
    "team": GranteeKind.TEAM,
    "department": GranteeKind.DEPARTMENT,
    "admin_board": GranteeKind.GROUP,
}


@dataclass(frozen=True, slots=True)
class CreateGroup:
    unit_id: uuid.UUID
    kind: str  # group, team (tổ chuyên môn), department (bộ phận), admin_board (Ban quản trị)
    name: str
    head_user_id: uuid.UUID | None = None
    member_ids: tuple[uuid.UUID, ...] = ()


async def add_group(
    uow: IdentityUnitOfWork,
    cmd: CreateGroup,
    tree: OrgTree,
    *,
    actor_id: uuid.UUID | None,
    source_address: str | None = None,
) -> GroupRow:
    if cmd.kind not in _GROUP_GRANTEE_KIND:
        raise DomainError("group-kind-invalid", "Loại nhóm không hợp lệ", cmd.kind)
    _unit(tree, cmd.unit_id)
    try:
        name = normalise_name(cmd.name)
    except DomainError as exc:
        raise DomainError("group-name-invalid", "Tên nhóm không hợp lệ", exc.detail) from None
    if await uow.admin.group_by_name(cmd.unit_id, name) is not None:
        raise ConflictError("group-name-taken", "Tên nhóm đã có trong đơn vị", name)
    members = {*cmd.member_ids, *([cmd.head_user_id] if cmd.head_user_id else [])}
    for member in members:
        if await uow.admin.user(member) is None:
            raise DomainError("user-unknown", "Không tìm thấy tài khoản", str(member))
    row = GroupRow(
        id=uuid.uuid4(),
        unit_id=cmd.unit_id,
        kind=cmd.kind,
        name=name,
        head_user_id=cmd.head_user_id,
        status="active",
    )
    uow.admin.add_group(row)
    await uow.session.flush()
    for member in sorted(members):
        await uow.admin.add_member(row.id, member)
    uow.admin.audit(
        actor_id,
        "group.create",
        cmd.unit_id,
        str(row.id),
        {"kind": cmd.kind},
        source_address=source_address,
    )
    return row


async def create_group(
    uow: IdentityUnitOfWork, actor: Actor, cmd: CreateGroup, allowed: Collection[Role]
) -> GroupRow:
    try:
        async with uow:
            auth = await authority(uow, actor)
            _unit(auth.tree, cmd.unit_id)
            auth.require(allowed, cmd.unit_id)
            row = await add_group(
                uow, cmd, auth.tree, actor_id=actor.user_id, source_address=actor.source_address
            )
            await uow.commit()
            return row
    except IntegrityError as exc:
        _raise_conflict(exc)


async def change_member(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    actor: Actor,
    group_id: uuid.UUID,
    user_id: uuid.UUID,
    allowed: Collection[Role],
    revoker: SubjectRevoker,
    *,
    add: bool,
) -> GroupRow:
    """Add or remove a member. Removing one revokes their tokens: the group's grants are in
    them. Adding one to a group that holds grants is granting those roles, so the actor must
    be able to grant each of them."""
    async with uow:
        auth = await authority(uow, actor)
        group = await uow.admin.group(group_id)
        if group is None:
            raise NotFoundError("group-unknown", "Không tìm thấy nhóm", str(group_id))
        auth.require(allowed, group.unit_id)
        if await uow.admin.user(user_id) is None:
            raise DomainError("user-unknown", "Không tìm thấy tài khoản", str(user_id))
        if add:
            units = [u.id for u in auth.tree]
            for row in await uow.admin.grants_page(units, group.id, None, 1000):
                if row.revoked_at is None:
                    decision = can_grant(
                        auth.grants, Role(row.role), row.unit_id, auth.tree, auth.at
                    )
                    decision.raise_if_refused()
            changed = await uow.admin.add_member(group.id, user_id)
        else:
            changed = await uow.admin.remove_member(group.id, user_id)
        if changed:
            uow.admin.audit(
                actor.user_id,
                "group.member_add" if add else "group.member_remove",
                group.unit_id,
                str(group.id),
                {"user_id": str(user_id)},
                source_address=actor.source_address,
            )
            if not add:
                await revoker.revoke_subject(str(user_id), auth.at)
        await uow.commit()
        return group


# --- grants


@dataclass(frozen=True, slots=True)
class GrantRole:
    role: Role
    unit_id: uuid.UUID
    grantee_kind: GranteeKind
    grantee_id: uuid.UUID
    valid_from: datetime | None = None
    valid_to: datetime | None = None


async def _grantee(uow: IdentityUnitOfWork, kind: GranteeKind, grantee_id: uuid.UUID) -> Grantee:
    if kind is GranteeKind.USER:
        if await uow.admin.user(grantee_id) is None:
            raise DomainError("user-unknown", "Không tìm thấy tài khoản", str(grantee_id))
        return Grantee.user(grantee_id)
    group = await uow.admin.group(grantee_id)
    if group is None:
        raise DomainError("group-unknown", "Không tìm thấy nhóm", str(grantee_id))
    return Grantee.group(grantee_id, _GROUP_GRANTEE_KIND[group.kind])


def _grant_changed(
    grant: Grant, change: GrantChange, tree: OrgTree, at: datetime, by: uuid.UUID
) -> GrantChanged:
    scope = tree.scope_of(grant.unit_id)
    return GrantChanged(
        grant_id=grant.id,
        change=change,
        grantee_kind=grant.grantee.kind,
        grantee_id=grant.grantee.id,
        role=grant.role,
        scope_level=scope.level,
        province_id=scope.province_id,
        district_id=scope.district_id,
        school_id=scope.school_id,
        changed_at=at,
        changed_by=by,
    )


def record_grant(
    uow: IdentityUnitOfWork,
    grant: Grant,
    tree: OrgTree,
    at: datetime,
    *,
    source_address: str | None = None,
) -> GrantRow:
    """Store a grant, its event and its audit row (the API, bootstrap and the demo use it)."""
    row = uow.admin.add_grant(grant)
    uow.emit(_grant_changed(grant, GrantChange.GRANTED, tree, at, grant.granted_by))
    uow.admin.audit(
        grant.granted_by,
        "grant.create",
        grant.unit_id,
        str(grant.id),
        {
            "role": grant.role.value,
            "grantee_kind": grant.grantee.kind.value,
            "grantee_id": str(grant.grantee.id),
        },
        source_address=source_address,
    )
    return row


async def grant_role(uow: IdentityUnitOfWork, actor: Actor, cmd: GrantRole) -> GrantRow:
    """Grant a role at a unit; no escalation (``domain.can_grant`` with the actor's grants).

    A platform role (archivist) is refused first, whoever asks (422 ``role-platform-only``): it
    belongs to platform service clients, which an operator creates, never to a user or a group.
    """
    check_grantable_to_people(cmd.role)
    async with uow:
        auth = await authority(uow, actor)
        _unit(auth.tree, cmd.unit_id)
        grantee = await _grantee(uow, cmd.grantee_kind, cmd.grantee_id)
        can_grant(auth.grants, cmd.role, cmd.unit_id, auth.tree, auth.at).raise_if_refused()
        grant = Grant(
            id=uuid.uuid4(),
            role=cmd.role,
            unit_id=cmd.unit_id,
            grantee=grantee,
            valid_from=cmd.valid_from or auth.at,
            granted_by=actor.user_id,
            valid_to=cmd.valid_to,
        )
        row = record_grant(uow, grant, auth.tree, auth.at, source_address=actor.source_address)
        await uow.commit()
        return row


async def revoke_grant(
    uow: IdentityUnitOfWork, actor: Actor, grant_id: uuid.UUID, revoker: SubjectRevoker
) -> GrantRow:
    """End a grant now; the grantee's tokens (every member's, for a group) stop at once."""
    from identity.repository.admin import grant_of  # noqa: PLC0415

    async with uow:
        auth = await authority(uow, actor)
        row = await uow.admin.grant_row(grant_id, for_update=True)
        if row is None:
            raise NotFoundError("grant-unknown", "Không tìm thấy quyền", str(grant_id))
        grant = grant_of(row)
        can_revoke(auth.grants, grant, auth.tree, auth.at).raise_if_refused()
        if row.revoked_at is not None:
            return row
        row.revoked_at = auth.at
        row.revoked_by = actor.user_id
        uow.emit(_grant_changed(grant, GrantChange.REVOKED, auth.tree, auth.at, actor.user_id))
        uow.admin.audit(
            actor.user_id,
            "grant.revoke",
            grant.unit_id,
            str(grant.id),
            {"role": grant.role.value},
            source_address=actor.source_address,
        )
        subjects = (
            await uow.admin.member_ids(grant.grantee.id)
            if grant.grantee.is_group
            else [grant.grantee.id]
        )
        for subject in subjects:
            await revoker.revoke_subject(str(subject), auth.at)
        await uow.commit()
        return row


# --- school-software clients


@dataclass(frozen=True, slots=True)
class CreateClient:
    name: str
    school_id: uuid.UUID
    scopes: tuple[str, ...]


async def create_school_client(
    uow: IdentityUnitOfWork, actor: Actor, cmd: CreateClient, allowed: Collection[Role]
) -> tuple[ClientRow, str]:
    """Register school software bound to one school; returns the row and its secret (shown once).

    The actor needs one of ``allowed`` over the school, and every scope is a role the actor could
    grant there (``can_grant``): a client never gets what its creator could not hand out. The
    insert itself is ``handlers.auth.create_client``'s, inside this unit of work.
    """
    async with uow:
        auth = await authority(uow, actor)
        unit = _unit(auth.tree, cmd.school_id)
        auth.require(allowed, unit.id)
        if unit.kind is not OrgLevel.SCHOOL:
            raise DomainError(
                "school-unknown", "Không tìm thấy trường", f"{unit.code} is not a school"
            )
        for scope in sorted(set(cmd.scopes) & {r.value for r in CLIENT_SCOPES}):
            decision = can_grant(auth.grants, Role(scope), unit.id, auth.tree, auth.at)
            if not decision.allowed:
                raise GrantRefusedError(
                    "client-scope-above-actor",
                    "Không thể cấp phạm vi quyền này cho phần mềm",
                    f"{scope} at {unit.code}: {decision.detail}",
                )
        client_id, secret = await create_client(
            uow,
            name=cmd.name,
            school_id=unit.id,
            scopes=list(cmd.scopes),
            created_by=actor.user_id,
        )
        row = await uow.admin.client(client_id)
        assert row is not None
        await uow.commit()
        return row, secret


async def disable_client(
    uow: IdentityUnitOfWork,
    actor: Actor,
    client_id: str,
    allowed: Collection[Role],
    revoker: SubjectRevoker,
) -> ClientRow:
    """Disable a client (school software, or a platform client for an admin of the province):
    the token endpoint refuses it, and its live tokens (subject: the client id) are revoked at
    once."""
    async with uow:
        auth = await authority(uow, actor)
        row = await uow.admin.client(client_id, for_update=True)
        if row is None:
            raise NotFoundError("client-unknown", "Không tìm thấy phần mềm", client_id)
        auth.require(allowed, row.unit_id)
        if row.status == "disabled":
            return row
        row.status = "disabled"
        uow.admin.audit(
            actor.user_id,
            "client.disable",
            row.unit_id,
            row.client_id,
            source_address=actor.source_address,
        )
        await revoker.revoke_subject(row.client_id, auth.at)
        await uow.commit()
        return row
