"""Operator commands of the identity service.

``python -m identity.cli bootstrap --province-code 79 --province-name "Sở GDĐT …"
--admin-username quantri.so --admin-password-env HSDT_ADMIN_PASSWORD`` creates the department
(Sở GDĐT) and its first province admin. It is idempotent: run again with the same province it
changes nothing; it refuses when the database already holds a different province.

``python -m identity.cli demo`` loads the demo province (see ``identity.demo``).
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
from typing import Final

from common.db import create_engine, create_sessionmaker
from common.events.identity import OrgLevel, OrgUnitCreated, Role
from identity.domain import DomainError, Grant, Grantee, OrgTree, OrgUnit
from identity.handlers.admin import CreateUser, add_user, record_grant
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork

# Who made what the platform made: grants need a grantor, and bootstrap has none.
PLATFORM_ID: Final = uuid.UUID("00000000-0000-0000-0000-000000000001")


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
    args = parser.parse_args(argv)
    if args.command == "demo":
        from identity.demo import main as demo_main  # noqa: PLC0415 — only this command needs it

        return demo_main()
    return asyncio.run(_bootstrap(args))


if __name__ == "__main__":
    sys.exit(main())
