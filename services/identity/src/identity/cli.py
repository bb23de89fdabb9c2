"""Operator commands of the identity service.

``python -m identity.cli bootstrap --province-code 79 --province-name "Sở GDĐT …"
--admin-username quantri.so --admin-password-env HSDT_ADMIN_PASSWORD`` creates the department
(Sở GDĐT) and its first province admin. It is idempotent: run again with the same province it
changes nothing; it refuses when the database already holds a different province.

``python -m identity.cli demo`` loads the demo province (see ``identity.demo``).

``python -m identity.cli platform-client --name archive --province-code BL --scopes archivist``
registers a platform service (the archive) bound to the province and prints, once,
``client_id=…`` and ``client_secret=…`` (after a ``#`` comment line, so the output can be
sourced). It is idempotent by name: when a platform client of that name exists with the same
province and scopes, it prints its ``client_id``, says so, and changes nothing (the secret
cannot be shown again). ``--rotate`` issues a new secret for it instead (the old one stops
working at once). A client of that name with another province or other scopes is refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from common.db import create_engine, create_sessionmaker
from common.errors import Problem
from common.events.identity import OrgLevel, OrgUnitCreated, Role
from identity.domain import DomainError, Grant, Grantee, OrgTree, OrgUnit, normalise_code
from identity.handlers.admin import CreateUser, add_user, record_grant
from identity.handlers.auth import (
    PLATFORM_ID,
    create_platform_client,
    rotate_platform_client_secret,
)
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork


class BootstrapRefusedError(Exception):
    """The database already holds a different province, or the inputs are not acceptable."""


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    department_id: uuid.UUID
    admin_id: uuid.UUID
    created: bool  # False when everything already existed


async def bootstrap_province(  # noqa: PLR0917
    uow: IdentityUnitOfWork,
    province_code: str,
    province_name: str,
    admin_username: str,
    admin_password: str,
    admin_full_name: str = "Quản trị hệ thống Sở GDĐT",
    *,
    unit_id: uuid.UUID | None = None,
    admin_id: uuid.UUID | None = None,
) -> BootstrapResult:
    """Create the department and its first province admin, unless they exist already."""
    async with uow:
        await uow.admin.lock_tree()
        try:
            wanted = OrgUnit(
                unit_id or uuid.uuid4(), OrgLevel.PROVINCE, province_code, province_name
            )
        except DomainError as exc:
            raise BootstrapRefusedError(f"{exc.code}: {exc.detail or exc.title_vi}") from None
        tree = await uow.admin.tree()
        created = False
        now = datetime.now(UTC)
        if tree is None:
            uow.admin.add_unit(wanted, created_by=None)
            tree = OrgTree.build([wanted])
            uow.emit(
                OrgUnitCreated(
                    unit_id=wanted.id,
                    kind=OrgLevel.PROVINCE,
                    code=wanted.code,
                    name=wanted.name,
                    parent_id=None,
                    levels=[],
                    province_id=wanted.id,
                    district_id=None,
                    created_at=now,
                    created_by=None,
                )
            )
            uow.admin.audit(None, "orgunit.create", wanted.id, wanted.code, actor_kind="platform")
            created = True
        elif tree.department.code != wanted.code:
            raise BootstrapRefusedError(
                f"this database already holds province {tree.department.code}, "
                f"not {wanted.code}; refusing to add a second one"
            )
        department = tree.department
        admin = await uow.admin.user_by_username(admin_username.strip().lower())
        if admin is None:
            try:
                admin = await add_user(
                    uow,
                    CreateUser(
                        username=admin_username,
                        full_name=admin_full_name,
                        home_unit_id=department.id,
                        password=admin_password,
                        user_id=admin_id,
                    ),
                    tree,
                    created_by=None,
                    at=now,
                    must_change_password=False,
                )
            except DomainError as exc:
                raise BootstrapRefusedError(f"{exc.code}: {exc.detail or exc.title_vi}") from None
            grant = Grant(
                id=uuid.uuid4(),
                role=Role.PROVINCE_ADMIN,
                unit_id=department.id,
                grantee=Grantee.user(admin.id),
                valid_from=now,
                granted_by=PLATFORM_ID,
            )
            record_grant(uow, grant, tree, now)
            created = True
        elif admin.home_unit_id != department.id:
            raise BootstrapRefusedError(f"user {admin.username} exists outside the department")
        await uow.commit()
        return BootstrapResult(department.id, admin.id, created)


async def _bootstrap(args: argparse.Namespace) -> int:
    password = os.environ.get(args.admin_password_env)
    if not password:
        print(f"error: environment variable {args.admin_password_env} is empty", file=sys.stderr)
        return 2
    settings = IdentitySettings()
    engine = create_engine(settings.database_url, pool_size=2, application_name="identity-cli")
    uow = IdentityUnitOfWork(create_sessionmaker(engine), source=settings.service_name)
    try:
        result = await bootstrap_province(
            uow, args.province_code, args.province_name, args.admin_username, password
        )
    except BootstrapRefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    state = "created" if result.created else "already present, nothing changed"
    print(f"province {result.department_id} and admin {result.admin_id}: {state}")
    return 0


class PlatformClientRefusedError(Exception):
    """The province is unknown, the inputs are not acceptable, or a client of that name differs."""


@dataclass(frozen=True, slots=True)
class PlatformClientResult:
    client_id: str
    secret: str | None  # None when nothing was issued: the client existed and was left alone
    state: str  # "created", "rotated" or "unchanged"
    scopes: tuple[str, ...]


async def ensure_platform_client(
    uow: IdentityUnitOfWork,
    name: str,
    province_code: str,
    scopes: Sequence[str],
    *,
    rotate: bool = False,
) -> PlatformClientResult:
    """Create the platform client ``name`` at the province, or leave it (``rotate``: a new
    secret for it). Idempotent by name; a client of that name that differs is refused."""
    try:
        code = normalise_code(province_code)
    except DomainError as exc:
        raise PlatformClientRefusedError(f"{exc.code}: {exc.detail}") from None
    wanted = sorted({s for scope in scopes for s in scope.split(",") if s})
    async with uow:
        unit = await uow.admin.unit_row_by_code(code)
        if unit is None or unit.kind != OrgLevel.PROVINCE.value:
            raise PlatformClientRefusedError(f"{code} is not the province (Sở GDĐT)")
        existing = await uow.auth.platform_client_by_name(name)
    try:
        if existing is None:
            client_id, secret = await create_platform_client(
                uow, name=name, province_id=unit.id, scopes=wanted
            )
            return PlatformClientResult(client_id, secret, "created", tuple(wanted))
        if existing.unit_id != unit.id or sorted(existing.scopes) != wanted:
            raise PlatformClientRefusedError(
                f"platform client {name!r} ({existing.client_id}) exists with scopes "
                f"{sorted(existing.scopes)} at unit {existing.unit_id}, not {wanted} at {code}; "
                "nothing changed (disable it and use another name)"
            )
        if existing.status != "active":
            raise PlatformClientRefusedError(
                f"platform client {name!r} ({existing.client_id}) is disabled; nothing changed "
                "(use another name)"
            )
        if not rotate:
            return PlatformClientResult(existing.client_id, None, "unchanged", tuple(wanted))
        client_id, secret = await rotate_platform_client_secret(uow, name=name)
        return PlatformClientResult(client_id, secret, "rotated", tuple(wanted))
    except Problem as problem:
        raise PlatformClientRefusedError(f"{problem.code}: {problem.detail}") from None


async def _platform_client(args: argparse.Namespace) -> int:
    settings = IdentitySettings()
    engine = create_engine(settings.database_url, pool_size=2, application_name="identity-cli")
    uow = IdentityUnitOfWork(create_sessionmaker(engine), source=settings.service_name)
    try:
        result = await ensure_platform_client(
            uow, args.name, args.province_code, args.scopes, rotate=args.rotate
        )
    except PlatformClientRefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await engine.dispose()
    about = (
        f"platform client {args.name!r} at province {args.province_code.strip().upper()} "
        f"(scopes: {','.join(result.scopes)})"
    )
    if result.state == "unchanged":
        print(f"# {about} already exists; nothing changed (--rotate issues a new secret)")
    elif result.state == "rotated":
        print(
            f"# {about}: new secret, shown once; the old one no longer works, and tokens "
            "issued with it expire within their lifetime"
        )
    else:
        print(f"# {about} created; the secret is shown once and cannot be read again")
    print(f"client_id={result.client_id}")
    if result.secret is not None:
        print(f"client_secret={result.secret}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m identity.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    boot = commands.add_parser("bootstrap", help="create the province and its first admin")
    boot.add_argument("--province-code", required=True)
    boot.add_argument("--province-name", required=True)
    boot.add_argument("--admin-username", required=True)
    boot.add_argument(
        "--admin-password-env",
        required=True,
        help="name of the environment variable holding the admin's password",
    )
    commands.add_parser("demo", help="load the demo province (idempotent)")
    platform = commands.add_parser(
        "platform-client",
        help="register a platform service (the archive) at the province; idempotent by name",
    )
    platform.add_argument("--name", required=True)
    platform.add_argument("--province-code", required=True)
    platform.add_argument(
        "--scopes", required=True, nargs="+", help="platform roles, e.g. archivist"
    )
    platform.add_argument(
        "--rotate",
        action="store_true",
        help="issue a new secret for an existing client (the old one stops working)",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from identity.demo import main as demo_main  # noqa: PLC0415 — only this command needs it

        return demo_main()
    if args.command == "platform-client":
        return asyncio.run(_platform_client(args))
    return asyncio.run(_bootstrap(args))


__all__ = [
    "PLATFORM_ID",  # where it lives: identity.handlers.auth; kept here for bootstrap's callers
    "BootstrapRefusedError",
    "BootstrapResult",
    "PlatformClientRefusedError",
    "PlatformClientResult",
    "bootstrap_province",
    "ensure_platform_client",
    "main",
]

if __name__ == "__main__":
    sys.exit(main())
