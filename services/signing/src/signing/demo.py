"""The demo province in signing: ``python -m signing.demo`` (the run command calls it).

Signing owns certificates and signing requests, so this is what it loads:

- the certificates of each demo school's leader (hieutruong), subject teacher (gv1) and
  homeroom teacher (gv2), and the school's organisation certificate (its seal), from the dev
  PKI that ``hsdt-signing-dev setup`` made (their keys are in its SoftHSM2 token);
- one signing request in Trường THCS Lê Quý Đôn: a student's transcript (a sample PDF/A until
  archive renders the real layouts) to be signed by gv1, gv2, hieutruong, then the seal.

The org tree is loaded here too, so the checks do not wait for identity's events. Idempotent: a
second run changes nothing.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.db import create_engine, create_sessionmaker
from common.demo import all_schools, demo_id, demo_principal, org_events, username
from common.events.archive import DocumentKind
from common.events.records import Term
from common.events.signing import SignerRole
from signing.access import Actor
from signing.bootstrap import signature_tools
from signing.crypto.pki import TestPki, load_test_pki
from signing.crypto.sample import SIGNATURE_BOXES, transcript_pdf
from signing.devpki import SIGNING_STAFF, person_label, seal_label
from signing.domain.chain import PlannedSigner
from signing.engine import SignatureTools
from signing.handlers import requests, settings
from signing.handlers.copies import record_org_unit
from signing.settings import SigningSettings
from signing.uow import SigningUnitOfWork

DEMO_SCHOOL: Final = "BL-DX-THCS01"
DEMO_DOCUMENT: Final = demo_id("document", "hoc-ba-demo-2025-2026")
DEMO_STUDENT: Final = "Nguyễn Văn An"
ROLES: Final = {
    "gv1": SignerRole.SUBJECT_TEACHER,
    "gv2": SignerRole.HOMEROOM_TEACHER,
    "hieutruong": SignerRole.SCHOOL_LEADER,
}


async def load_certificates(
    sessions: async_sessionmaker[AsyncSession], tools: SignatureTools, pki: TestPki
) -> int:
    """Each demo school's signers' and seal's certificates; how many were imported now."""

    def uow() -> SigningUnitOfWork:
        return SigningUnitOfWork(sessions, source="signing")

    imported = 0
    for _, school in all_schools():
        unit = demo_id("unit", school.code)
        board = Actor.of(demo_principal(username(school.code, "quantri"), "school_admin", unit))
        holders: list[tuple[str, uuid.UUID | None]] = [
            (person_label(username(school.code, p)), demo_id("user", username(school.code, p)))
            for p in SIGNING_STAFF
        ]
        holders.append((seal_label(school.code), None))
        for label, holder in holders:
            async with uow() as check:
                kind, holder_id = ("person", holder) if holder else ("school", unit)
                if await check.repo.active_certificate(kind, holder_id) is not None:
                    continue
            await settings.import_certificate(
                uow(),
                board,
                tools,
                unit,
                holder=holder,
                body=settings.CertificateImport(pki.chain(label).to_pem().decode(), label),
            )
            imported += 1
    return imported


async def open_demo_request(
    sessions: async_sessionmaker[AsyncSession], tools: SignatureTools, app_settings: SigningSettings
) -> bool:
    """The demo transcript's signing request, unless it is open already."""
    uow = SigningUnitOfWork(sessions, source="signing")
    async with uow:
        if await uow.repo.open_request_for_document(DEMO_DOCUMENT) is not None:
            return False
    unit = demo_id("unit", DEMO_SCHOOL)
    board = Actor.of(demo_principal(username(DEMO_SCHOOL, "quantri"), "school_admin", unit))
    school_name = next(s.name for _, s in all_schools() if s.code == DEMO_SCHOOL)
    plan = [
        requests.StepPlan(
            PlannedSigner(role, demo_id("user", username(DEMO_SCHOOL, prefix)), f"Sig_{prefix}"),
            1,
            box,
        )
        for (prefix, role), box in zip(ROLES.items(), SIGNATURE_BOXES, strict=False)
    ]
    plan.append(
        requests.StepPlan(
            PlannedSigner(SignerRole.SCHOOL_SEAL, None, "Seal"), 1, SIGNATURE_BOXES[3]
        )
    )
    await requests.open_request(
        SigningUnitOfWork(sessions, source="signing"),
        board,
        tools,
        app_settings,
        requests.NewRequest(
            document_id=DEMO_DOCUMENT,
            kind=DocumentKind.TRANSCRIPT,
            title=f"Học bạ năm học 2025-2026 — {DEMO_STUDENT}",
            school_id=unit,
            school_year="2025-2026",
            term=Term.YEAR.value,
            class_id=None,
            student_id=demo_id("student", f"{DEMO_SCHOOL}:{DEMO_STUDENT}"),
            document=transcript_pdf(DEMO_STUDENT, school_name),
            steps=plan,
        ),
    )
    return True


async def load_demo(
    sessions: async_sessionmaker[AsyncSession], app_settings: SigningSettings
) -> str:
    for event in org_events(datetime.now(UTC)):
        await record_org_unit(event, SigningUnitOfWork(sessions, source="signing"))
    pki_dir = os.environ.get("SIGNING_DEV_PKI_DIR")
    if not pki_dir:
        return "org tree only: no dev PKI (SIGNING_DEV_PKI_DIR); import real certificates"
    # The PKI's OCSP responder is not up yet while the demo loads: the chains are checked
    # against the anchors without fetching revocation data.
    tools = signature_tools(app_settings.model_copy(update={"fetch_revocation": False}))
    try:
        imported = await load_certificates(sessions, tools, load_test_pki(Path(pki_dir)))
        opened = await open_demo_request(sessions, tools, app_settings)
    finally:
        if tools.keys is not None:
            tools.keys.close()
    return f"{imported} certificate(s) imported, demo request {'opened' if opened else 'kept'}"


async def _main() -> int:
    app_settings = SigningSettings()
    engine = create_engine(app_settings.database_url, pool_size=2, application_name="signing-demo")
    try:
        print(f"signing demo loaded: {await load_demo(create_sessionmaker(engine), app_settings)}")
    finally:
        await engine.dispose()
    return 0


def main() -> int:
    return asyncio.run(_main())


if __name__ == "__main__":
    sys.exit(main())
