"""``hsdt-records-audit``: verify schools' audit chains from the command line (R5).

    hsdt-records-audit verify --school <id or code>
    hsdt-records-audit verify --all

Reads the database named by ``RECORDS_DATABASE_URL`` (``RecordsSettings``); prints one line per
school, and for a broken chain its first break. Exit status 0 when every chain verifies, 1 when
any is broken, 2 for a usage error (an unknown school). The same verification as
``GET /schools/{school_id}/audit/verify`` (``records.handlers.audit.verify_chain``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select

from common.db import create_engine, create_sessionmaker
from records.handlers.audit import Verification, snapshot_read, verify_chain
from records.models import AuditHeadRow, OrgUnitRow
from records.settings import RecordsSettings

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def _line(code: str, result: Verification) -> str:
    head = f"head {result.head_seq}:{result.head_hash}"
    if result.first_break is None:
        return f"OK      {code}  {result.records} records  {head}"
    found = result.first_break
    return (
        f"BROKEN  {code}  first break at seq {found.seq}: {found.problem}"
        f"  expected {found.expected}  found {found.found}  ({head})"
    )


async def verify(database_url: str, school: str | None, *, every: bool) -> int:
    engine = create_engine(database_url, pool_size=1, application_name="hsdt-records-audit")
    sessions = create_sessionmaker(engine)
    try:
        async with sessions() as session:
            query = select(OrgUnitRow.id, OrgUnitRow.code).where(OrgUnitRow.kind == "school")
            if not every:
                assert school is not None
                try:
                    query = query.where(
                        or_(OrgUnitRow.id == uuid.UUID(school), OrgUnitRow.code == school)
                    )
                except ValueError:
                    query = query.where(OrgUnitRow.code == school)
            found = await session.execute(query.order_by(OrgUnitRow.code))
            schools = dict(found.all())
            if every:
                # A chain of a school the org tree does not know is verified too.
                heads = await session.scalars(select(AuditHeadRow.school_id))
                schools |= {h: str(h) for h in heads if h not in schools}
        if not schools:
            print(f"no such school: {school}", file=sys.stderr)
            return EXIT_USAGE
        broken = 0
        for school_id, code in schools.items():
            async with sessions() as session:
                await snapshot_read(session)
                result = await verify_chain(session, school_id)
            broken += not result.ok
            print(_line(code, result), flush=True)
        if every:
            print(f"{len(schools)} chain(s), {broken} broken", flush=True)
        return EXIT_BROKEN if broken else EXIT_OK
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="hsdt-records-audit", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="recompute audit chains; exit 1 on a break")
    target = check.add_mutually_exclusive_group(required=True)
    target.add_argument("--school", help="a school's id or code")
    target.add_argument("--all", action="store_true", help="every school's chain")
    args = parser.parse_args(argv)
    settings = RecordsSettings()
    sys.exit(asyncio.run(verify(settings.database_url, args.school, every=args.all)))


if __name__ == "__main__":
    main()
