"""Bulk import of staff from the Excel template: download it, check it (dry run), import it.

A real import applies every row or none, in one transaction, through the same building blocks
as the single-row routes (``handlers.admin.add_user``, ``add_group``, ``record_grant``): each
account gets its ``identity.user.created`` event and audit row, each grant its
``identity.grant.changed`` event and audit row. Accounts are created **without a usable
password**: an admin of the scope sets a temporary one (POST /users/{id}/password-reset) or
invites the person before they can sign in.

Authority is that of POST /users for every row's unit (``ENDPOINT_RULES``) and that of
POST /grants for every row's role (no escalation); a real import with a row outside it is
refused as 403, with any other problem as 422, and writes nothing.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Query, Response, UploadFile
from pydantic import BaseModel

from common.errors import Problem, problem_responses
from common.events.identity import Role
from identity import excel_import as xl
from identity.api.admin import ENDPOINT_RULES, ActorDep, UowDep, problem_of
from identity.domain import DomainError, Grant, Grantee, can_grant, normalise_name
from identity.handlers import admin as handlers
from identity.handlers.admin import Actor, Authority
from identity.uow import IdentityUnitOfWork

router = APIRouter(tags=["imports"])

TEMPLATE: Final = ("GET", "/imports/staff/template")
IMPORT: Final = ("POST", "/imports/staff")
GROUP_KIND: Final = "group"


class ImportProblem(BaseModel):
    row: int
    column: str
    header: str
    code: str
    message: str


class DryRunReport(BaseModel):
    dry_run: bool
    rows: int
    problems: list[ImportProblem]
    users_created: int = 0
    groups_created: int = 0
    memberships_added: int = 0
    grants_created: int = 0


async def _authority(uow: IdentityUnitOfWork, actor: Actor) -> Authority:
    try:
        return await handlers.authority(uow, actor)
    except DomainError as exc:
        raise problem_of(exc) from None


def _scope_or_403(auth: Authority, roles: frozenset[Role]) -> frozenset[uuid.UUID]:
    scope = auth.units_with(roles)
    if not scope:
        raise Problem(
            403, "outside-scope", "Không có quyền trên đơn vị này", "no admin role held anywhere"
        )
    return scope


@router.get(
    "/imports/staff/template",
    responses={
        200: {"content": {xl.XLSX_MEDIA_TYPE: {}}, "description": "The .xlsx template"},
        **problem_responses(401, 403, 404),
    },
    response_class=Response,
)
async def staff_template(actor: ActorDep, uow: UowDep, unit: uuid.UUID | None = None) -> Response:
    """The staff import template; its guide sheet lists the unit codes in the caller's scope
    (under ``unit`` when given)."""
    roles = ENDPOINT_RULES[TEMPLATE].roles
    async with uow:
        auth = await _authority(uow, actor)
        if unit is not None:
            if unit not in auth.tree:
                raise Problem(404, "org-unit-unknown", "Không tìm thấy đơn vị", str(unit))
            try:
                auth.require(roles, unit)
            except DomainError as exc:
                raise problem_of(exc) from None
            scope = auth.scope(roles, unit)
        else:
            scope = _scope_or_403(auth, roles)
    codes = sorted((u.code, u.name) for u in auth.tree if u.id in scope)
    return Response(
        content=xl.build_template(codes),
        media_type=xl.XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": 'attachment; filename="mau-nhap-nhan-su.xlsx"'},
    )


def _grant_check(auth: Authority) -> xl.GrantCheck:
    def check(role: Role, unit_id: uuid.UUID) -> str | None:
        decision = can_grant(auth.grants, role, unit_id, auth.tree, auth.at)
        return None if decision.allowed else decision.title_vi

    return check


async def _group_problems(
    uow: IdentityUnitOfWork, auth: Authority, rows: list[xl.StaffRow]
) -> list[xl.RowProblem]:
    """Joining an existing group that holds grants is being granted its roles: the caller must
    be able to grant each of them (as POST /groups/{id}/members)."""
    problems: list[xl.RowProblem] = []
    units = [u.id for u in auth.tree]
    for row in rows:
        if row.group is None:
            continue
        try:
            unit = auth.tree.by_code(row.unit_code)
            name = normalise_name(row.group)
        except DomainError:
            continue  # already a problem of the row
        group = await uow.admin.group_by_name(unit.id, name)
        if group is None:
            continue
        for grant in await uow.admin.grants_page(units, group.id, None, 1000):
            if grant.revoked_at is None:
                decision = can_grant(
                    auth.grants, Role(grant.role), grant.unit_id, auth.tree, auth.at
                )
                if not decision.allowed:
                    problems.append(
                        xl.RowProblem(
                            row.row,
                            xl.letter_of("group"),
                            xl.header_of("group"),
                            "role-not-grantable",
                            f"Nhóm “{group.name}” có vai trò vượt quá quyền của bạn",
                        )
                    )
                    break
    return problems


async def _apply(
    uow: IdentityUnitOfWork, actor: Actor, auth: Authority, rows: list[xl.StaffRow]
) -> DryRunReport:
    report = DryRunReport(dry_run=False, rows=len(rows), problems=[])
    members: dict[tuple[uuid.UUID, str], list[uuid.UUID]] = {}
    for row in rows:
        unit = auth.tree.by_code(row.unit_code)
        role = row.role
        assert role is not None
        cmd = handlers.CreateUser(row.username, row.full_name, unit.id, email=row.email)
        user = await handlers.add_user(
            uow,
            cmd,
            auth.tree,
            created_by=actor.user_id,
            at=auth.at,
            source_address=actor.source_address,
        )
        report.users_created += 1
        grant = Grant(uuid.uuid4(), role, unit.id, Grantee.user(user.id), auth.at, actor.user_id)
        handlers.record_grant(uow, grant, auth.tree, auth.at, source_address=actor.source_address)
        report.grants_created += 1
        if row.group is not None:
            members.setdefault((unit.id, normalise_name(row.group)), []).append(user.id)
    for (unit_id, name), user_ids in members.items():
        group = await uow.admin.group_by_name(unit_id, name)
        if group is None:
            cmd_group = handlers.CreateGroup(unit_id, GROUP_KIND, name, member_ids=tuple(user_ids))
            await handlers.add_group(
                uow,
                cmd_group,
                auth.tree,
                actor_id=actor.user_id,
                source_address=actor.source_address,
            )
            report.groups_created += 1
            report.memberships_added += len(user_ids)
            continue
        for user_id in user_ids:
            if await uow.admin.add_member(group.id, user_id):
                uow.admin.audit(
                    actor.user_id,
                    "group.member_add",
                    group.unit_id,
                    str(group.id),
                    {"user_id": str(user_id)},
                    source_address=actor.source_address,
                )
                report.memberships_added += 1
    return report


def _problem_body(problems: list[xl.RowProblem]) -> dict[str, Any]:
    return {"problems": [p.as_dict() for p in problems]}


@router.post("/imports/staff", responses=problem_responses(401, 403, 409, 413, 422))
async def import_staff(
    actor: ActorDep,
    uow: UowDep,
    file: Annotated[UploadFile, File(description="The filled-in template (.xlsx)")],
    dry_run: Annotated[bool, Query(description="Only check; write nothing")] = True,
) -> DryRunReport:
    """Check (``dry_run=true``, the default) or import the staff template. A dry run lists
    every row's problems (row as numbered in Excel, 2 = first data row; column letter and its
    Vietnamese header). A real import writes every row or none; accounts get no usable
    password until an admin resets it."""
    data = await file.read(xl.MAX_BYTES + 1)
    try:
        rows = xl.parse_workbook(data)
    except xl.SheetError as exc:
        raise Problem(exc.status, exc.code, exc.title_vi, exc.detail) from None
    roles = ENDPOINT_RULES[IMPORT].roles
    async with uow:
        auth = await _authority(uow, actor)
        scope = _scope_or_403(auth, roles)
        names = xl.usernames(rows)
        taken = [u for u in names if await uow.admin.user_by_username(u) is not None]
        problems = xl.check_rows(rows, auth.tree, scope, _grant_check(auth), taken)
        problems = sorted(
            [*problems, *await _group_problems(uow, auth, rows)], key=lambda p: (p.row, p.column)
        )
        if dry_run:
            return DryRunReport(
                dry_run=True,
                rows=len(rows),
                problems=[ImportProblem(**p.as_dict()) for p in problems],
            )
        if problems:
            status = 403 if any(p.code in xl.AUTHORITY_CODES for p in problems) else 422
            raise Problem(
                status,
                "import-rows-invalid" if status == 422 else "outside-scope",
                "Tệp có dòng không hợp lệ; không dòng nào được nhập"
                if status == 422
                else "Tệp có dòng ngoài phạm vi quyền của bạn; không dòng nào được nhập",
                f"{len(problems)} problem(s) in {len({p.row for p in problems})} row(s)",
                extensions=_problem_body(problems),
            )
        try:
            report = await _apply(uow, actor, auth, rows)
        except DomainError as exc:  # a username taken meanwhile: nothing is committed
            raise problem_of(exc) from None
        await uow.commit()
    return report
