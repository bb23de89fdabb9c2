"""Signing benchmark: PAdES signatures per second on one core for a two-page transcript, ours
against bare pyHanko signing the same file in the same run, the growth of a document signed
fifteen times, archiving (B-LTA) and validation, and what a province's term end asks of a
signing worker.

    uv run --no-sync python -m bench.signing [--quick] [--profile]

One process on one core: the benchmark pins itself to CPU 0 (``os.sched_setaffinity``) before it
starts any thread, and the test PKI's animator (TSA, OCSP, CRLs: ``hsdt-signing-pki serve``) to
CPU 1, so the TSA's own signing is not charged to the signer. PostgreSQL, Redis and RabbitMQ run
where the kernel puts them.

Setup: ``signing.crypto_testing.build_signing_pki`` (the test suite's PKI: EC P-256 keys, every
signer key imported into a SoftHSM2 token, the animator started), ``sample.transcript_pdf``
(typst, PDF/A-2b, two pages) rendered once; then the signing app in process (``create_app``,
its lifespan, telemetry at the production sampling 0.1 into an in-memory exporter) on its own
database (``hsdt_bench_signing_<id>``, migrated, dropped at the end), driven through
``httpx.ASGITransport`` with ``signing.testing``'s ``SigningWorld`` helpers. ``gc.freeze()``
after setup, as ``create_service_app`` does.

Figures (each the median of three runs after a warm-up, the runs of all cases interleaved so
drift in the machine's load moves every case alike; ``--quick`` runs each once, smaller). Every
signature signs the same original file (field ``Sig1``; visible ones in the sample's first box
on page 2):

(a) baselines, bare pyHanko: ``PdfSigner`` with ``bytes_reserved`` (the size ours reserves) and
    a minimal ``PdfSignatureMetadata`` (field, SHA-256, PAdES), invisible; with a
    ``SimpleSigner`` made once from the PEM key (B-B; B-T with an ``HTTPTimeStamper`` to the
    same local TSA) and with pyHanko's own ``PKCS11Signer`` on its own session of the same token
    (B-B, B-T); as diagnostics, B-B visible with pyHanko's default stamp (Courier), and B-T
    with the timestamper given one ``aiohttp`` session kept open (pyHanko otherwise makes a
    session, with a TLS context, for every timestamp request);
(b) ours: ``pades.sign`` with the same ``SimpleSigner`` and with ``TokenKeys.signer`` (made
    once), B-B and B-T, invisible and visible (our stamp: three Vietnamese lines in a DejaVu
    Sans subset); ``SignatureTools.sign`` as the service calls it (chain parsed and signer made
    per call; always B-T), invisible and visible;
(c) the service's whole path: one transcript request of four (subject teacher, homeroom
    teacher, school leader, the seal) opened, then each ``POST /signing-requests/{id}/sign`` in
    turn (token check, step-up, the request locked, the certificate checked online, the
    signature, a revision row, the outbox event, commit; the seal's also archives as B-LTA);
    and the term-end path: a teacher's batch of requests (``POST /signing-batches``) signed by
    the worker's ``run_next_batch``, one transaction per request;
(d) raw parts: one ECDSA P-256 signature in SoftHSM2 (python-pkcs11) and with ``cryptography``;
    one RFC 3161 timestamp from the local TSA, with a session per request and with one kept;
    the CPU of the TLS context every new ``aiohttp`` session builds (certifi's CA bundle); and
    ``SignatureTools.check_usable`` (the online certificate check each signature of the
    service's path makes);
(e) growth: one transcript signed fifteen times in a row (fields Sig1..Sig15, fifteen distinct
    signers, visible stamps in a 3 × 5 grid on page 2, B-T through the token), the time of each
    signature and the file's size; the same with bare pyHanko and with ``pades.sign`` (both
    ``SimpleSigner``, B-B, invisible) to tell pyHanko's growth from ours;
(f) ``extend_to_lta`` of the four-signature transcript and of the fifteen-signature one, and
    ``validation.validate`` of each archived file offline.

From those, the term end of a province of ``bench.province``'s default size (300,000 students'
transcripts and 10,000 classes' tracking books): signatures = documents × chain length, hours per
worker at the measured rates, plus one B-LTA per document.

With ``--profile``, a last pass under cProfile (printed to stderr and kept in the JSON): our token
B-T visible signature, bare pyHanko's PKCS#11 B-T, ours B-B visible and invisible (the stamp
alone), and a batch of the worker. The table goes to stdout and everything to
``bench/results/signing.json`` (git-ignored). The temporary PKI, token, database and Redis keys
are removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import hashlib
import io
import json
import logging
import math
import os
import pstats
import ssl
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Final

import aiohttp
import asyncpg
import certifi
import httpx
import pkcs11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from fastapi import FastAPI
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pkcs11 import Mechanism, ObjectClass, SignMixin
from pydantic import SecretStr
from pyhanko.keys import load_private_key_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from redis.asyncio import Redis

from bench import figures
from bench.figures import machine, ratio, versions
from common.telemetry import setup_telemetry
from common.testing import TokenIssuer, alembic, serving
from signing.app import create_app
from signing.crypto import pades
from signing.crypto.certs import CertChain
from signing.crypto.sample import SIGNATURE_BOXES, transcript_pdf
from signing.crypto.validation import validate
from signing.crypto_testing import SigningPki, build_signing_pki
from signing.devpki import trust_files
from signing.engine import SignatureTools
from signing.handlers.batches import run_next_batch
from signing.settings import SigningSettings
from signing.testing import Signer, SigningWorld, Units, seed_units

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
REDIS_URL = os.environ.get("HSDT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("HSDT_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}/postgres"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "signing.json"
TRACE_RATIO: Final = 0.1
BENCH_CPU: Final = 0
ANIMATOR_CPU: Final = 1
STUDENT: Final = "Đỗ Thị Ngọc Ánh"
SCHOOL: Final = "Trường THCS Thử Nghiệm"
SIGNER: Final = "gv-toan"  # the test PKI's subject teacher
STAMP_NAME: Final = "Nguyễn Văn Toàn"
STAMP_ROLE: Final = "Giáo viên bộ môn"
FIELD: Final = "Sig1"
PAGE: Final = 1  # the sample's signature boxes are on page 2
BOX: Final = SIGNATURE_BOXES[0]
# The four signers of the sample transcript (labels of the test PKI) and their roles.
FOUR: Final = (
    ("gv-toan", "Giáo viên bộ môn"),
    ("gv-cn", "Giáo viên chủ nhiệm"),
    ("hieu-truong", "Hiệu trưởng"),
    ("school", "Xác nhận của nhà trường"),
)
GROWTH: Final = 15
# Fifteen stamps on page 2 in three columns of five rows (165 × 60 pt each).
GROWTH_BOXES: Final = tuple(
    (40 + 180 * (k % 3), 60 + 75 * (k // 3), 205 + 180 * (k % 3), 120 + 75 * (k // 3))
    for k in range(GROWTH)
)
GROWTH_SERIES: Final = {
    "bare": "bare pyHanko (SimpleSigner, B-B, invisible)",
    "ours": "pades.sign (SimpleSigner, B-B, invisible)",
    "token": "pades.sign (token, B-T, visible; 15 signers)",
}
# The term end (docs/benchmarks.md, Records: the generator's default province).
SUBJECT_TEACHERS_ALL: Final = 12  # a THCS transcript when every subject teacher signs
DISTRIBUTIONS: Final = (
    "pyhanko", "pyhanko-certvalidator", "python-pkcs11", "cryptography", "certomancer", "typst",
    "aiohttp", "sqlalchemy", "asyncpg", "fastapi",
)  # fmt: skip
CMS_OVERHEAD: Final = 3072  # what pades reserves beyond certificates and the timestamp token


@dataclass(frozen=True)
class Sizes:
    reps: int
    per_run: int  # signatures per run of each signing case
    raw_ops: int  # raw signatures per run
    tsa_ops: int  # raw timestamps per run
    growth_docs: int  # documents signed fifteen times (per series)
    lta_runs: int
    http_docs: int  # four-signature requests through HTTP per run
    batch: int  # requests in a teacher's batch per run
    profile: int  # signatures per profiled case (with --profile)

    @classmethod
    def full(cls) -> Sizes:
        return cls(reps=3, per_run=20, raw_ops=200, tsa_ops=20, growth_docs=3, lta_runs=3,
                   http_docs=4, batch=12, profile=30)  # fmt: skip

    @classmethod
    def quick(cls) -> Sizes:
        return cls(reps=1, per_run=5, raw_ops=50, tsa_ops=5, growth_docs=1, lta_runs=1,
                   http_docs=1, batch=3, profile=10)  # fmt: skip


class Results(figures.Results):
    digits = 2

    def rate(self, key: str, label: str, count: int, wall: float, cpu: float) -> None:
        self.add(key, label, "sig/s", count / wall)
        self.add(f"{key}_cpu", f"{label}: process CPU", "ms/sig", cpu * 1000 / count)


def pin(cpu: int) -> bool:
    """Pin every thread of this process, and what it starts afterwards, to ``cpu``."""
    if not hasattr(os, "sched_setaffinity") or cpu >= (os.cpu_count() or 1):
        return False
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task), {cpu})
    return True


# ---------------------------------------------------------------------------------------------
# Bare pyHanko: the baselines


def bare_metadata(field: str) -> signers.PdfSignatureMetadata:
    return signers.PdfSignatureMetadata(
        field_name=field, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES
    )


async def bare_sign(
    pdf: bytes,
    signer: signers.Signer,
    *,
    timestamper: HTTPTimeStamper | None,
    reserved: int,
    field: str = FIELD,
    box: tuple[int, int, int, int] | None = None,
) -> bytes:
    """Bare pyHanko: one incremental update, no checks, no stamp text of ours."""
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    pdf_signer = signers.PdfSigner(
        bare_metadata(field),
        signer,
        timestamper=timestamper,
        new_field_spec=fields.SigFieldSpec(sig_field_name=field, on_page=PAGE, box=box),
    )
    output = await pdf_signer.async_sign_pdf(writer, bytes_reserved=reserved)
    signed: bytes = output.getvalue()
    return signed


def simple_signer(pki: SigningPki, label: str) -> signers.SimpleSigner:
    chain = pki.chain(label)
    store: SimpleCertificateStore = SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]  # unannotated in certvalidator
        list(chain.intermediates)
    )
    return signers.SimpleSigner(
        signing_cert=chain.signer,
        signing_key=load_private_key_from_pemder(pki.pki.key_path(label), passphrase=None),
        cert_registry=store,
    )


class BareToken:
    """pyHanko's own PKCS#11 signer on a session of its own, to the same token and key."""

    def __init__(self, pki: SigningPki, label: str) -> None:
        token = pkcs11.lib(pki.module_path).get_token(token_label=pki.token_label)
        try:
            self.session = token.open(user_pin=pki.user_pin, rw=True)
        except pkcs11.exceptions.UserAlreadyLoggedIn:
            self.session = token.open(rw=True)  # the fixture's TokenKeys logged the process in
        chain = pki.chain(label)
        self.signer = PKCS11Signer(
            self.session,
            key_label=label,
            signing_cert=chain.signer,
            ca_chain=list(chain.intermediates),
            other_certs_to_pull=(),
            use_raw_mechanism=chain.key_algorithm == "ec",
        )
        key = self.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        assert isinstance(key, SignMixin)
        self.key = key

    def close(self) -> None:
        self.session.close()


def reserved_bytes(chain: CertChain, token_size: int | None) -> int:
    """What ``pades`` reserves for this signer: the same room for the baselines."""
    size = CMS_OVERHEAD + sum(len(c.dump()) for c in chain.certificates)
    if token_size is not None:
        size += token_size + 1024
    return 2 * size


# ---------------------------------------------------------------------------------------------
# The service in process


@contextlib.asynccontextmanager
async def service_world(pki: SigningPki, run_id: str) -> AsyncIterator[SigningWorld]:
    """The signing app on its own migrated database, with ``signing.testing``'s helpers."""
    database = f"hsdt_bench_signing_{run_id}"
    prefix = f"hsdt-bench-signing-{run_id}:"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@{PG_HOST}/{database}"
    issuer = TokenIssuer()
    jwks_app = FastAPI()

    @jwks_app.get("/.well-known/jwks.json")
    async def jwks() -> dict[str, Any]:
        return issuer.jwks()

    try:
        await asyncio.to_thread(alembic, "signing", url)
        trust = trust_files(pki.pki, pki.directory)
        async with serving(jwks_app) as jwks_base:
            issuer.jwks_url = f"{jwks_base}/.well-known/jwks.json"
            settings = SigningSettings(
                database_url=url,
                amqp_url=AMQP_URL,
                redis_url=REDIS_URL,
                redis_prefix=prefix,
                jwks_url=issuer.jwks_url,
                token_issuer=issuer.issuer,
                token_audience=issuer.audience,
                trace_sample_ratio=TRACE_RATIO,
                log_level="WARNING",
                pkcs11_module=pki.module_path,
                pkcs11_user_pin=SecretStr(pki.user_pin),
                pkcs11_token_label=pki.token_label,
                trust_anchors_file=Path(trust["SIGNING_TRUST_ANCHORS_FILE"]),
                trust_intermediates_file=Path(trust["SIGNING_TRUST_INTERMEDIATES_FILE"]),
                trust_timestamp_anchors_file=Path(trust["SIGNING_TRUST_TIMESTAMP_ANCHORS_FILE"]),
                tsa_url=pki.tsa_url,
            )
            app = create_app(settings)
            setup_telemetry(settings.service_name, settings, span_exporter=InMemorySpanExporter())
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://signing/api/v1"
                ) as client,
            ):
                logging.getLogger("httpx").setLevel(logging.WARNING)
                deps = app.state.deps
                world = SigningWorld(app, client, issuer, deps.sessionmaker, Units(), settings, pki)
                await seed_units(world)
                yield world
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()
        redis = Redis.from_url(REDIS_URL)
        try:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


@dataclass
class Staff:
    """The people of the benchmark's school, each with a certificate whose key is in the token."""

    homeroom: Signer
    leader: Signer
    teachers: list[Signer]  # the HTTP documents', then one per batch run and the profile's


def tools_of(world: SigningWorld) -> SignatureTools:
    tools = world.app.state.deps.signature_tools()
    assert isinstance(tools, SignatureTools)
    return tools


async def open_transcript(world: SigningWorld, teacher: Signer, staff: Staff, pdf: bytes) -> Any:
    return await world.open_request(
        [
            ("subject_teacher", teacher),
            ("homeroom_teacher", staff.homeroom),
            ("school_leader", staff.leader),
        ],
        seal=True,
        document=pdf,
    )


async def sign_in_turn(world: SigningWorld, request: Any, signer: Signer, sha256: str) -> Any:
    """One ``POST …/sign``, timed alone: the token and the step-up are minted before."""
    headers = world.of(signer)
    body = {"document_sha256": sha256, "step_up_token": world.step_up(signer.user_id)}
    started = time.perf_counter()
    response = await world.client.post(
        f"/signing-requests/{request['id']}/sign", json=body, headers=headers
    )
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed, response.json()


async def http_document(
    world: SigningWorld, teacher: Signer, staff: Staff, pdf: bytes
) -> tuple[list[float], float]:
    """A four-signature transcript through the API: the three people's signatures, then the
    seal (with the archiving). Returns the three times and the seal's."""
    request = await open_transcript(world, teacher, staff, pdf)
    sha = request["document_sha256"]
    people = []
    for signer in (teacher, staff.homeroom, staff.leader):
        elapsed, read = await sign_in_turn(world, request, signer, sha)
        people.append(elapsed)
        sha = read["document_sha256"]
    seal, read = await sign_in_turn(world, request, staff.leader, sha)
    assert read["state"] == "completed", read
    return people, seal


async def batch_run(
    world: SigningWorld, teacher: Signer, staff: Staff, pdf: bytes, count: int
) -> tuple[float, float]:
    """``count`` requests waiting for ``teacher``; their batch queued through the API and then
    signed by the worker's ``run_next_batch``. Returns its wall and CPU seconds."""
    for _ in range(count):
        await open_transcript(world, teacher, staff, pdf)
    queued = await world.client.post(
        "/signing-batches",
        json={
            "school_id": str(world.units.school),
            "step_up_token": world.step_up(teacher.user_id),
        },
        headers=world.of(teacher),
    )
    assert queued.status_code == 202, queued.text
    assert queued.json()["requests"] == count, queued.text
    tools = tools_of(world)
    cpu, started = time.process_time(), time.perf_counter()
    batch_id = await run_next_batch(world.uow, tools)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    done = await world.client.get(f"/signing-batches/{batch_id}", headers=world.of(teacher))
    read = done.json()
    assert (read["signed"], read["failed"]) == (count, 0), read
    return wall, cpu


# ---------------------------------------------------------------------------------------------
# The benchmark


@dataclass
class Bench:
    pki: SigningPki
    pdf: bytes
    simple: signers.SimpleSigner
    bare: BareToken
    token: signers.Signer  # TokenKeys.signer, made once
    timestamper: HTTPTimeStamper
    kept: HTTPTimeStamper  # the same TSA through one aiohttp session kept open
    reserved_bb: int
    reserved_bt: int
    world: SigningWorld
    staff: Staff

    def stamp(self) -> pades.StampText:
        return pades.StampText(STAMP_NAME, STAMP_ROLE, datetime.now(UTC))

    def cases(self) -> list[tuple[str, str, Callable[[], Awaitable[bytes]]]]:
        pdf, tsa = self.pdf, self.pki.tsa_url
        tools = tools_of(self.world)
        pem = self.pki.chain(SIGNER).to_pem().decode()

        def bare(
            signer: signers.Signer,
            *,
            bt: bool,
            box: tuple[int, int, int, int] | None = None,
            kept: bool = False,
        ) -> Callable[[], Awaitable[bytes]]:
            stamper = (self.kept if kept else self.timestamper) if bt else None
            reserved = self.reserved_bt if bt else self.reserved_bb
            return lambda: bare_sign(pdf, signer, timestamper=stamper, reserved=reserved, box=box)

        def ours(
            signer: signers.Signer, *, bt: bool, visible: bool
        ) -> Callable[[], Awaitable[bytes]]:
            placement = pades.Placement(FIELD, PAGE, BOX if visible else None)
            return lambda: pades.sign(
                pdf, signer, placement, self.stamp(), tsa_url=tsa if bt else None
            )

        def service(*, visible: bool) -> Callable[[], Awaitable[bytes]]:
            return lambda: tools.sign(
                pdf, pem=pem, key_label=SIGNER, field=FIELD, page=PAGE,
                box=BOX if visible else None, stamp_name=STAMP_NAME, stamp_role=STAMP_ROLE,
                at=datetime.now(UTC),
            )  # fmt: skip

        simple, token, p11 = self.simple, self.token, self.bare.signer
        return [
            ("bare_bb", "bare pyHanko, SimpleSigner, B-B", bare(simple, bt=False)),
            ("bare_bt", "bare pyHanko, SimpleSigner, B-T", bare(simple, bt=True)),
            ("bare_p11_bb", "bare pyHanko, PKCS11Signer, B-B", bare(p11, bt=False)),
            ("bare_p11_bt", "bare pyHanko, PKCS11Signer, B-T", bare(p11, bt=True)),
            ("bare_bb_vis", "bare pyHanko, SimpleSigner, B-B, visible (default stamp)",
             bare(simple, bt=False, box=BOX)),
            ("bare_bt_kept", "bare pyHanko, SimpleSigner, B-T, one aiohttp session kept",
             bare(simple, bt=True, kept=True)),
            ("ours_bb", "pades.sign, SimpleSigner, B-B, invisible",
             ours(simple, bt=False, visible=False)),
            ("ours_bb_vis", "pades.sign, SimpleSigner, B-B, visible",
             ours(simple, bt=False, visible=True)),
            ("ours_bt", "pades.sign, SimpleSigner, B-T, invisible",
             ours(simple, bt=True, visible=False)),
            ("ours_bt_vis", "pades.sign, SimpleSigner, B-T, visible",
             ours(simple, bt=True, visible=True)),
            ("tok_bb", "pades.sign, token, B-B, invisible", ours(token, bt=False, visible=False)),
            ("tok_bb_vis", "pades.sign, token, B-B, visible", ours(token, bt=False, visible=True)),
            ("tok_bt", "pades.sign, token, B-T, invisible", ours(token, bt=True, visible=False)),
            ("tok_bt_vis", "pades.sign, token, B-T, visible", ours(token, bt=True, visible=True)),
            ("svc_bt", "SignatureTools.sign (token, B-T), invisible", service(visible=False)),
            ("svc_bt_vis", "SignatureTools.sign (token, B-T), visible", service(visible=True)),
        ]  # fmt: skip


async def signing_rates(bench: Bench, sizes: Sizes, results: Results) -> dict[str, bool]:
    cases = bench.cases()
    checks: dict[str, bool] = {}
    print("warm-up", file=sys.stderr)
    for key, _, one in cases:
        signed = await one()
        if key in {"bare_p11_bt", "tok_bt_vis", "svc_bt_vis"}:
            report = await validate(signed, bench.pki.trust_online)
            (sig,) = report.signatures
            checks[key] = sig.intact and sig.valid and sig.timestamp_time is not None
        await one()
    for rep in range(sizes.reps):
        print(f"run {rep + 1} of {sizes.reps}", file=sys.stderr)
        for key, label, one in cases:
            cpu, started = time.process_time(), time.perf_counter()
            for _ in range(sizes.per_run):
                await one()
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
            results.rate(key, label, sizes.per_run, wall, cpu)
        await raw_parts(bench, sizes, results)
    return checks


async def raw_parts(bench: Bench, sizes: Sizes, results: Results) -> None:
    digest = hashlib.sha256(b"bench").digest()
    key = bench.bare.key
    started = time.perf_counter()
    for _ in range(sizes.raw_ops):
        key.sign(digest, mechanism=Mechanism.ECDSA)
    results.add("raw_p11", "raw: ECDSA P-256 sign in SoftHSM2 (python-pkcs11)", "µs",
                (time.perf_counter() - started) * 1e6 / sizes.raw_ops)  # fmt: skip
    private = load_pem_private_key(bench.pki.pki.key_path(SIGNER).read_bytes(), password=None)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    started = time.perf_counter()
    for _ in range(sizes.raw_ops):
        private.sign(b"bench", ec.ECDSA(hashes.SHA256()))
    results.add("raw_ec", "raw: ECDSA P-256 sign with cryptography", "µs",
                (time.perf_counter() - started) * 1e6 / sizes.raw_ops)  # fmt: skip
    started = time.perf_counter()
    for _ in range(sizes.tsa_ops):
        await bench.timestamper.async_timestamp(digest, "sha256")
    results.add("raw_tsa", "raw: one RFC 3161 timestamp from the local TSA", "ms",
                (time.perf_counter() - started) * 1000 / sizes.tsa_ops)  # fmt: skip
    started = time.perf_counter()
    for _ in range(sizes.tsa_ops):
        await bench.kept.async_timestamp(digest, "sha256")
    results.add("raw_tsa_kept", "raw: the same through one aiohttp session kept", "ms",
                (time.perf_counter() - started) * 1000 / sizes.tsa_ops)  # fmt: skip
    # What pyHanko pays for every new aiohttp session (a TSA request without a session of its
    # own; every online validation context): a TLS context loading certifi's CA bundle.
    started = time.process_time()
    for _ in range(sizes.tsa_ops):
        ssl.create_default_context(cafile=certifi.where())
    results.add("raw_ssl", "raw: a new aiohttp session's TLS context (certifi), CPU", "ms",
                (time.process_time() - started) * 1000 / sizes.tsa_ops)  # fmt: skip
    tools, pem = tools_of(bench.world), bench.pki.chain(SIGNER).to_pem().decode()
    cpu, started = time.process_time(), time.perf_counter()
    for _ in range(sizes.tsa_ops):
        await tools.check_usable(pem, datetime.now(UTC))
    results.add("check_usable", "SignatureTools.check_usable (online, per signature)", "ms",
                (time.perf_counter() - started) * 1000 / sizes.tsa_ops)  # fmt: skip
    results.add("check_usable_cpu", "… its process CPU", "ms",
                (time.process_time() - cpu) * 1000 / sizes.tsa_ops)  # fmt: skip


async def growth(bench: Bench, sizes: Sizes, results: Results) -> dict[str, Any]:
    """Fifteen signatures on one document, in three series; the time and size of each."""
    labels = list(bench.pki.pki.spares[-GROWTH:])
    token_signers = [bench.pki.signer(label) for label in labels]
    names = [bench.pki.chain(label).common_name for label in labels]
    series: dict[str, list[list[float]]] = {"bare": [], "ours": [], "token": []}
    sizes_of: dict[str, list[int]] = {}
    fifteen: list[bytes] = []
    for doc in range(sizes.growth_docs):
        print(f"growth: document {doc + 1} of {sizes.growth_docs}", file=sys.stderr)
        for name, done in series.items():
            pdf = bench.pdf
            times, lengths = [], [len(pdf)]
            for k in range(GROWTH):
                field = f"Sig{k + 1}"
                started = time.perf_counter()
                if name == "bare":
                    pdf = await bare_sign(pdf, bench.simple, timestamper=None,
                                          reserved=bench.reserved_bb, field=field)  # fmt: skip
                elif name == "ours":
                    pdf = await pades.sign(pdf, bench.simple, pades.Placement(field, PAGE),
                                           bench.stamp(), tsa_url=None)  # fmt: skip
                else:
                    pdf = await pades.sign(
                        pdf,
                        token_signers[k],
                        pades.Placement(field, PAGE, GROWTH_BOXES[k]),
                        pades.StampText(names[k], STAMP_ROLE, datetime.now(UTC)),
                        tsa_url=bench.pki.tsa_url,
                    )
                times.append(time.perf_counter() - started)
                lengths.append(len(pdf))
            done.append(times)
            sizes_of[name] = lengths
            if name == "token":
                fifteen.append(pdf)
    out: dict[str, Any] = {"sizes": sizes_of, "times_ms": {}}
    for name, docs in series.items():
        per_position = [[doc[k] * 1000 for doc in docs] for k in range(GROWTH)]
        out["times_ms"][name] = per_position
        label = GROWTH_SERIES[name]
        for one in docs:
            results.add(f"growth_{name}_1", f"growth, {label}: 1st", "ms", one[0] * 1000)
            results.add(f"growth_{name}_15", f"growth, {label}: 15th", "ms", one[-1] * 1000)
            results.add(f"growth_{name}_sum", f"growth, {label}: all 15", "s", sum(one))
    out["fifteen"] = fifteen
    return out


async def archiving(bench: Bench, sizes: Sizes, results: Results, fifteen: list[bytes]) -> bool:
    """B-LTA of the four- and fifteen-signature transcripts, and their offline validation."""
    pdf = bench.pdf
    for n, (label, role) in enumerate(FOUR):
        pdf = await pades.sign(
            pdf,
            bench.pki.signer(label),
            pades.Placement(f"Ky{n + 1}", PAGE, SIGNATURE_BOXES[n]),
            pades.StampText(bench.pki.chain(label).common_name, role, datetime.now(UTC)),
            tsa_url=bench.pki.tsa_url,
        )
    ok = True
    documents = [("4", pdf)] * sizes.lta_runs + [("15", doc) for doc in fifteen]
    for count, document in documents:
        started = time.perf_counter()
        archived = await pades.extend_to_lta(
            document, bench.pki.trust_online, tsa_url=bench.pki.tsa_url
        )
        results.add(f"lta_{count}", f"extend_to_lta, {count} signatures", "ms",
                    (time.perf_counter() - started) * 1000)  # fmt: skip
        started = time.perf_counter()
        report = await validate(archived, bench.pki.trust_offline)
        results.add(f"validate_{count}", f"validate offline, {count} signatures + B-LTA", "ms",
                    (time.perf_counter() - started) * 1000)  # fmt: skip
        ok = ok and report.ok and report.ltv and len(report.signatures) == int(count) + 1
        if f"size_{count}" not in results.figures:
            results.add(f"size_{count}", f"file size, {count} signatures + B-LTA", "KiB",
                        len(archived) / 1024)  # fmt: skip
            results.add(f"lta_bytes_{count}", f"… of which the B-LTA update ({count})", "KiB",
                        (len(archived) - len(document)) / 1024)  # fmt: skip
    return ok


async def service_path(bench: Bench, sizes: Sizes, results: Results) -> None:
    world, staff, pdf = bench.world, bench.staff, bench.pdf
    print("service path: warm-up", file=sys.stderr)
    await http_document(world, staff.teachers[0], staff, pdf)
    await batch_run(world, staff.teachers[1], staff, pdf, 2)
    for rep in range(sizes.reps):
        print(f"service path: run {rep + 1} of {sizes.reps}", file=sys.stderr)
        people: list[float] = []
        seals: list[float] = []
        cpu, started = time.process_time(), time.perf_counter()
        for _ in range(sizes.http_docs):
            times, seal = await http_document(world, staff.teachers[0], staff, pdf)
            people.extend(times)
            seals.append(seal)
        whole, cpu = time.perf_counter() - started, time.process_time() - cpu
        results.add("http_sign", "POST …/sign, the three people (no archiving)", "sig/s",
                    len(people) / sum(people))  # fmt: skip
        results.add("http_seal", "POST …/sign, the seal + B-LTA", "ms",
                    1000 * sum(seals) / len(seals))  # fmt: skip
        results.add("http_doc", "a 4-signature transcript through the API (open, 4 × sign)", "s",
                    whole / sizes.http_docs)  # fmt: skip
        results.add("http_doc_cpu", "… process CPU per transcript", "ms",
                    1000 * cpu / sizes.http_docs)  # fmt: skip
        wall, cpu = await batch_run(world, staff.teachers[2 + rep], staff, pdf, sizes.batch)
        results.rate("batch", "batch worker: run_next_batch (token, B-T, visible)",
                     sizes.batch, wall, cpu)  # fmt: skip


async def profiled(bench: Bench, sizes: Sizes) -> dict[str, str]:
    """cProfile over our token B-T visible signature, bare pyHanko's PKCS#11 B-T, our B-B
    visible and invisible with the ``SimpleSigner`` (the stamp alone), and a batch run of the
    worker: the functions by own and by cumulative time."""
    cases = {key: one for key, _, one in bench.cases()}
    out = {}
    keys = ("tok_bt_vis", "bare_p11_bt", "ours_bb_vis", "ours_bb", "batch")
    for key in keys:
        profiler = cProfile.Profile()
        if key == "batch":
            teacher, count = bench.staff.teachers[-1], sizes.profile
            for _ in range(count):
                await open_transcript(bench.world, teacher, bench.staff, bench.pdf)
            queued = await bench.world.client.post(
                "/signing-batches",
                json={
                    "school_id": str(bench.world.units.school),
                    "step_up_token": bench.world.step_up(teacher.user_id),
                },
                headers=bench.world.of(teacher),
            )
            assert queued.status_code == 202, queued.text
            profiler.enable()
            await run_next_batch(bench.world.uow, tools_of(bench.world))
            profiler.disable()
        else:
            one = cases[key]
            profiler.enable()
            for _ in range(sizes.profile):
                await one()
            profiler.disable()
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        buf.write(f"=== {key}: {sizes.profile} signatures, by own time\n")
        stats.sort_stats("tottime").print_stats(30)
        buf.write(f"=== {key}: by cumulative time\n")
        stats.sort_stats("cumulative").print_stats(60)
        out[key] = buf.getvalue()
    return out


# ---------------------------------------------------------------------------------------------
# Report


RATIOS: Final = (
    ("B-B, SimpleSigner: pades.sign invisible / bare", "ours_bb", "bare_bb", True),
    ("B-B, SimpleSigner: pades.sign visible / bare", "ours_bb_vis", "bare_bb", False),
    ("B-T, SimpleSigner: pades.sign invisible / bare", "ours_bt", "bare_bt", True),
    ("B-T, SimpleSigner: pades.sign visible / bare", "ours_bt_vis", "bare_bt", False),
    ("PKCS#11 B-B: pades.sign token invisible / bare PKCS11Signer", "tok_bb", "bare_p11_bb", True),
    ("PKCS#11 B-B: pades.sign token visible / bare PKCS11Signer", "tok_bb_vis", "bare_p11_bb",
     False),
    ("PKCS#11 B-T: pades.sign token invisible / bare PKCS11Signer", "tok_bt", "bare_p11_bt", True),
    ("PKCS#11 B-T: pades.sign token visible / bare PKCS11Signer", "tok_bt_vis", "bare_p11_bt",
     False),
    ("service: SignatureTools.sign invisible / bare PKCS11Signer B-T", "svc_bt", "bare_p11_bt",
     True),
    ("service: SignatureTools.sign visible / bare PKCS11Signer B-T", "svc_bt_vis", "bare_p11_bt",
     False),
    ("service: POST …/sign (people) / bare PKCS11Signer B-T", "http_sign", "bare_p11_bt", False),
    ("service: batch worker / bare PKCS11Signer B-T", "batch", "bare_p11_bt", False),
    ("stamp, bare pyHanko: visible (Courier) / invisible, B-B", "bare_bb_vis", "bare_bb", False),
    ("B-T, bare pyHanko: one aiohttp session kept / a session per request", "bare_bt_kept",
     "bare_bt", False),
    ("stamp, ours: visible / invisible, token B-T", "tok_bt_vis", "tok_bt", False),
)  # fmt: skip


def report(
    results: Results, growth_ms: dict[str, list[list[float]]]
) -> tuple[dict[str, float], dict[str, float]]:
    """Ratios of signatures per second (wall), and of CPU per signature (baseline / ours: what
    the rates would be on a core of their own, TSA and database waits aside)."""
    med = results.median
    rates = {label: ratio(med(a), med(b)) for label, a, b, _ in RATIOS}
    cpu = {label: ratio(med(f"{b}_cpu"), med(f"{a}_cpu")) for label, a, b, _ in RATIOS}
    for name in GROWTH_SERIES:
        positions = [sorted(v)[len(v) // 2] for v in growth_ms[name]]
        rates[f"growth {name}: 15th / 1st"] = ratio(
            med(f"growth_{name}_15"), med(f"growth_{name}_1")
        )
        rates[f"growth {name}: 13th–15th / 1st–3rd"] = ratio(
            sum(positions[-3:]), sum(positions[:3])
        )
    return rates, cpu


def term_end(
    results: Results, growth_ms: dict[str, list[list[float]]], sizes: list[int]
) -> dict[str, Any]:
    """Hours of one signing worker for a province's term end, from the measured rates."""
    from bench.province import Scale  # noqa: PLC0415  # imports the records service

    scale = Scale.of(1.0)
    documents = {"transcripts": scale.students, "tracking books": scale.classes}
    total = sum(documents.values())
    med = results.median
    rates = {
        "token B-T visible (pades.sign)": med("tok_bt_vis"),
        "SignatureTools.sign visible": med("svc_bt_vis"),
        "batch worker (whole path)": med("batch"),
        # A core's bound if the TSA, OCSP and database waits overlapped (they do not: the worker
        # signs one request after another).
        "batch worker, CPU only": 1000 / med("batch_cpu"),
    }
    token_curve = [sorted(v)[len(v) // 2] / 1000 for v in growth_ms["token"]]
    chains = {
        "every subject teacher (12) + homeroom + leader + seal": SUBJECT_TEACHERS_ALL + 3,
        "one subject teacher + homeroom + leader + seal": 4,
    }
    lta_s = {4: med("lta_4") / 1000, 15: med("lta_15") / 1000}
    rows = []
    for chain, length in chains.items():
        signatures = total * length
        lta = lta_s[15 if length > 4 else 4]
        row: dict[str, Any] = {"chain": chain, "length": length, "signatures": signatures}
        row["lta_hours"] = total * lta / 3600
        for name, rate in rates.items():
            row[name] = signatures / rate / 3600 + row["lta_hours"]
        # The token's measured curve over positions 1..length (one document after another).
        row["token, growth curve"] = total * sum(token_curve[:length]) / 3600 + row["lta_hours"]
        # Storage: the archived file, and every revision the signing database keeps meanwhile
        # (the original, one per signature, the B-LTA), from the token series' file sizes.
        final = sizes[length] + med(f"lta_bytes_{15 if length > 4 else 4}") * 1024
        row["final_kib"] = final / 1024
        row["revisions_kib"] = (sum(sizes[: length + 1]) + final) / 1024
        row["province_final_gib"] = total * final / 2**30
        row["province_revisions_gib"] = total * row["revisions_kib"] * 1024 / 2**30
        rows.append(row)
    return {
        "province": asdict(scale),
        "documents": documents,
        "documents_total": total,
        "lta_seconds": lta_s,
        "rates": rates,
        "rows": rows,
    }


def print_growth(grown: dict[str, Any]) -> None:
    print()
    print("growth, median ms of the k-th signature on one document, and the file's size\n")
    print("| series | " + " | ".join(str(k + 1) for k in range(GROWTH)) + " | KiB at 0 / 1 / 15 |")
    print("|---|" + "---:|" * (GROWTH + 1))
    for name, positions in grown["times_ms"].items():
        label = GROWTH_SERIES[name]
        cells = " | ".join(f"{sorted(v)[len(v) // 2]:.0f}" for v in positions)
        kib = grown["sizes"][name]
        print(f"| {label} | {cells} | {kib[0] / 1024:.0f} / {kib[1] / 1024:.0f} / "
              f"{kib[-1] / 1024:.0f} |")  # fmt: skip


def print_table(
    results: Results, ratios: dict[str, float], cpu: dict[str, float], plan: dict[str, Any]
) -> None:
    print()
    print("| figure | median | unit | runs |")
    print("|---|---:|---|---|")
    for fig in results.figures.values():
        runs = " / ".join(f"{r:,.2f}" for r in fig.runs)
        print(f"| {fig.label} | {fig.median:,.2f} | {fig.unit} | {runs} |")
    print()
    print("| ratio | sig/s | CPU per signature | goal |")
    print("|---|---:|---:|---|")
    goal_of = {label: goal for label, _, _, goal in RATIOS}

    def verdict(value: float) -> str:
        return "met" if value >= 0.8 else "**missed**"

    for name, value in ratios.items():
        by_cpu = cpu.get(name, float("nan"))
        if name not in goal_of:
            goal = "≈ 1.0 (no growth)"
        elif goal_of[name]:
            goal = f"≥ 0.80: {verdict(value)} (by CPU: {verdict(by_cpu)})"
        else:
            goal = ""
        shown = "–" if math.isnan(by_cpu) else f"{by_cpu:.3f}"
        print(f"| {name} | {value:.3f} | {shown} | {goal} |")
    print()
    print(f"term end: {plan['documents_total']:,} documents "
          f"({', '.join(f'{v:,} {k}' for k, v in plan['documents'].items())}); "
          "hours of one worker (signatures + one B-LTA each)\n")  # fmt: skip
    names = [*plan["rates"], "token, growth curve"]
    print("| chain | signatures | " + " | ".join(names) + " |")
    print("|---|---:|" + "---:|" * len(names))
    for row in plan["rows"]:
        cells = " | ".join(f"{row[n]:,.0f} h" for n in names)
        print(f"| {row['chain']} ({row['length']}) | {row['signatures']:,} | {cells} |")
    print()
    print("storage: the archived file, and all revisions kept in the signing database meanwhile\n")
    print("| chain | archived file | all revisions | province, archived | province, revisions |")
    print("|---|---:|---:|---:|---:|")
    for row in plan["rows"]:
        print(f"| {row['length']} signatures | {row['final_kib']:,.0f} KiB | "
              f"{row['revisions_kib']:,.0f} KiB | {row['province_final_gib']:,.0f} GiB | "
              f"{row['province_revisions_gib']:,.0f} GiB |")  # fmt: skip


@dataclass(frozen=True)
class Setup:
    pki: SigningPki
    started: float
    load: tuple[float, float, float]
    pinned: bool
    animator_pinned: bool


async def run(sizes: Sizes, setup: Setup, *, profile: bool) -> dict[str, Any]:
    started, load, pki = setup.started, setup.load, setup.pki
    results = Results()
    bare = BareToken(pki, SIGNER)
    stack = contextlib.AsyncExitStack()
    try:
        pdf = transcript_pdf(STUDENT, SCHOOL)
        chain = pki.chain(SIGNER)
        timestamper = HTTPTimeStamper(pki.tsa_url)
        kept = HTTPTimeStamper(pki.tsa_url, session=await stack.enter_async_context(
            aiohttp.ClientSession()))  # fmt: skip
        token_size = len((await timestamper.async_dummy_response("sha256")).dump())
        await bare.signer.ensure_objects_loaded()  # type: ignore[no-untyped-call]  # untyped
        async with service_world(pki, uuid.uuid4().hex[:8]) as world:
            staff = Staff(
                homeroom=await world.signer(),
                leader=await world.signer(role="school_leader"),
                teachers=[await world.signer() for _ in range(3 + sizes.reps)],
            )
            await world.seal()
            bench = Bench(
                pki=pki,
                pdf=pdf,
                simple=simple_signer(pki, SIGNER),
                bare=bare,
                token=pki.signer(SIGNER),
                timestamper=timestamper,
                kept=kept,
                reserved_bb=reserved_bytes(chain, None),
                reserved_bt=reserved_bytes(chain, token_size),
                world=world,
                staff=staff,
            )
            gc.collect()
            gc.freeze()
            setup_s = time.monotonic() - started
            checks = await signing_rates(bench, sizes, results)
            grown = await growth(bench, sizes, results)
            checks["archived files validate offline"] = await archiving(
                bench, sizes, results, grown.pop("fifteen")
            )
            await service_path(bench, sizes, results)
            profiles = await profiled(bench, sizes) if profile else {}
    finally:
        await stack.aclose()
        bare.close()
    ratios, cpu_ratios = report(results, grown["times_ms"])
    plan = term_end(results, grown["times_ms"], grown["sizes"]["token"])
    print_table(results, ratios, cpu_ratios, plan)
    print_growth(grown)
    for text in profiles.values():
        print(text, file=sys.stderr)
    elapsed = time.monotonic() - started
    info = machine() | {"load_average_at_start": load, "pinned_to_cpu0": setup.pinned,
                        "animator_on_cpu1": setup.animator_pinned}  # fmt: skip
    vers = versions(DISTRIBUTIONS)
    print()
    print(f"file: {len(pdf):,} bytes, 2 pages; checks (signatures validate): {checks}")
    print(f"machine: {info}")
    print(f"versions: {vers}")
    averages = " / ".join(f"{x:.2f}" for x in load)
    print(f"whole run {elapsed:.0f} s (setup {setup_s:.0f} s); load average at start "
          f"{averages}; pinned to CPU 0: {setup.pinned}")  # fmt: skip
    print(f"results in {RESULTS}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run --no-sync python -m bench.signing " + " ".join(sys.argv[1:]),
        "machine": info,
        "versions": vers,
        "sizes": asdict(sizes),
        "checks": checks,
        "figures": {
            key: {"label": fig.label, "unit": fig.unit, "median": fig.median, "runs": fig.runs}
            for key, fig in results.figures.items()
        },
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "growth": grown,
        "term_end": plan,
        "profiles": profiles,
        "seconds": elapsed,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.signing", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="one run of each, smaller")
    parser.add_argument("--profile", action="store_true", help="also profile (cProfile)")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    started, load = time.monotonic(), os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="hsdt-bench-signing-") as tmp:
        # Before any thread or event loop: the animator inherits CPU 1 when it starts, then every
        # thread of this process moves to CPU 0 and what it starts later stays there.
        animator_pinned = pin(ANIMATOR_CPU)
        pki = build_signing_pki(Path(tmp))
        pinned = pin(BENCH_CPU)
        try:
            setup = Setup(pki, started, load, pinned, animator_pinned)
            out = asyncio.run(run(sizes, setup, profile=args.profile))
        finally:
            pki.stop_services()
            pki.keys.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")


if __name__ == "__main__":
    main()
