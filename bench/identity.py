"""Identity benchmark: token verification in a service, and sign-in throughput, each against raw
baselines measured in the same run.

    uv run --no-sync python -m bench.identity [--quick]

Figures (each the median of three runs after a warm-up; ``--quick`` runs each once, smaller):

(a) token verification, sequential on one event loop:
    - ``JwksVerifier.verify`` of an access token identity issued (JWKS cached; the revocation
      check is one Redis ``MGET`` of the jti, subject and family keys);
    - raw: PyJWT ``jwt.decode`` of the same EdDSA token with the same key, audience and issuer;
    - raw: one Redis ``MGET`` of the same three keys (one round trip);
    - a FastAPI endpoint depending on ``CurrentPrincipal`` vs the same endpoint without auth,
      sequential requests through ``httpx.ASGITransport`` (µs per request);
(b) sign-in: POST /api/v1/auth/sign-in of the identity app (ASGITransport, 8 concurrent
    clients) for a teacher (no TOTP; correct password, so the lockout never counts) vs raw
    argon2id verifies with the same parameters in threads (as many threads as the service lets
    hash at once, ``argon2_concurrency``), and one verify alone (ms per hash); as a diagnostic,
    the same sign-ins with the password check stubbed out (what the rest costs). The identity app
    runs with telemetry at the production sampling (``trace_sample_ratio`` 0.1).

The table goes to stdout and everything to ``bench/results/identity.json`` (git-ignored). The
database (``hsdt_bench_identity_<id>``) and the Redis keys under this run's prefix are removed at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from argon2 import PasswordHasher as Argon2Hasher
from argon2 import Type
from fastapi import FastAPI
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.figures import Results, machine, ratio, versions
from common.auth import CurrentPrincipal, JwksVerifier
from common.testing import alembic
from identity.app import create_app
from identity.bootstrap import IdentityDeps
from identity.models import CredentialRow, GrantRow, OrgUnitRow, UserRow
from identity.passwords import PasswordHasher
from identity.settings import IdentitySettings

PG_HOST = os.environ.get("HSDT_BENCH_PG_HOST", "127.0.0.1:5432")
REDIS_URL = os.environ.get("HSDT_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_ADMIN_DSN = f"postgresql://postgres@{PG_HOST}/postgres"
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "identity.json"
BASE_URL = "http://identity/api/v1"
PASSWORD = "ba con mèo trèo cây cau"
SIGN_IN_CONCURRENCY = 8
TRACE_RATIO = 0.1  # the production sampling (parent-based ratio), as bench.events uses


@dataclass(frozen=True)
class Sizes:
    reps: int
    verifies: int
    requests: int
    sign_ins: int
    hashes: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(reps=3, verifies=4_000, requests=1_500, sign_ins=120, hashes=120)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(reps=1, verifies=1_000, requests=400, sign_ins=40, hashes=40)


def _migrate(database_url: str) -> None:
    alembic("identity", database_url)


async def _seed(url: str, hasher: PasswordHasher) -> None:
    """Province → district → school, one active teacher with a grant at the school."""
    hashed = await hasher.hash(PASSWORD)  # the service's parameters: no rehash at sign-in
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine)
    province, district, school, teacher = (uuid.uuid4() for _ in range(4))
    now = datetime.now(UTC)
    try:
        async with sessions() as s:
            s.add(OrgUnitRow(id=province, kind="province", code="79", name="Sở GDĐT"))
            await s.flush()
            s.add(
                OrgUnitRow(
                    id=district, kind="district", code="760", name="Phòng Q1", parent_id=province
                )
            )
            await s.flush()
            s.add(
                OrgUnitRow(
                    id=school,
                    kind="school",
                    code="76001",
                    name="TH Kim Đồng",
                    parent_id=district,
                    levels=["primary"],
                )
            )
            await s.flush()
            s.add(
                UserRow(
                    id=teacher,
                    username="teacher",
                    full_name="Nguyễn Thị Giáo Viên",
                    status="active",
                    home_unit_id=school,
                )
            )
            await s.flush()
            s.add(CredentialRow(user_id=teacher, password_hash=hashed, recovery_code_hashes=[]))
            s.add(
                GrantRow(
                    id=uuid.uuid4(),
                    role="teacher",
                    unit_id=school,
                    grantee_kind="user",
                    grantee_id=teacher,
                    valid_from=now - timedelta(days=1),
                    granted_by=teacher,
                )
            )
            await s.commit()
    finally:
        await engine.dispose()


@dataclass
class Bench:
    settings: IdentitySettings
    client: httpx.AsyncClient
    deps: IdentityDeps
    verifier: JwksVerifier
    database: str


@contextlib.asynccontextmanager
async def identity_app(run_id: str) -> AsyncIterator[Bench]:
    database = f"hsdt_bench_identity_{run_id}"
    prefix = f"hsdt-bench-identity-{run_id}:"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    url = f"postgresql+asyncpg://postgres@{PG_HOST}/{database}"
    try:
        await asyncio.to_thread(_migrate, url)
        settings = IdentitySettings(
            database_url=url,
            redis_url=REDIS_URL,
            redis_prefix=prefix,
            key_passphrase=SecretStr(f"bench-key-passphrase-{uuid.uuid4().hex}"),
            data_key=SecretStr(f"bench-data-key-{uuid.uuid4().hex}"),
            trace_sample_ratio=TRACE_RATIO,
        )
        await _seed(url, service_hasher(settings))
        app = create_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
        ):
            deps: IdentityDeps = app.state.deps
            # The service logs every in-process request of httpx at INFO: keep the table readable.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            verifier = JwksVerifier(
                f"{BASE_URL}/.well-known/jwks.json",
                settings.token_issuer,
                settings.token_audience,
                300,
                client,
                deps.redis,
                prefix,
            )
            yield Bench(settings, client, deps, verifier, database)
    finally:
        redis: Redis = Redis.from_url(REDIS_URL)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await admin.close()


def service_hasher(settings: IdentitySettings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        concurrency=settings.argon2_concurrency,
    )


def raw_argon2(settings: IdentitySettings) -> Argon2Hasher:
    return Argon2Hasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        type=Type.ID,
    )


async def sign_in(client: httpx.AsyncClient) -> httpx.Response:
    response = await client.post(
        "/auth/sign-in",
        json={"username": "teacher", "password": PASSWORD},
        headers={"X-Forwarded-For": "10.0.0.1"},
    )
    if response.status_code != 200:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text}")
    return response


# ---------------------------------------------------------------------------------------------
# (a) token verification


async def per_call_us(n: int, call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await call()
    return (time.perf_counter() - start) / n * 1e6


def service_app(verifier: JwksVerifier) -> FastAPI:
    """Two otherwise identical endpoints: one behind ``CurrentPrincipal``, one open."""
    app = FastAPI()
    app.state.token_verifier = verifier

    @app.get("/open")
    async def open_endpoint() -> dict[str, str]:
        return {"subject": "anyone"}

    @app.get("/secured")
    async def secured_endpoint(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    return app


async def bench_tokens(bench: Bench, sizes: Sizes, results: Results, token: str) -> None:
    verifier = bench.verifier
    principal = await verifier.verify(token)  # fetches and caches the JWKS
    jwks = (await bench.client.get("/.well-known/jwks.json")).json()
    key = jwt.PyJWK(jwks["keys"][0], algorithm="EdDSA").key
    settings = bench.settings
    redis: Redis = bench.deps.redis
    p = settings.redis_prefix
    keys = [f"{p}revoked:jti:{principal.token_id}", f"{p}revoked:sub:{principal.subject}"]
    if principal.family_id is not None:
        keys.append(f"{p}revoked:family:{principal.family_id}")

    async def decode() -> object:
        return jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=settings.token_audience,
            issuer=settings.token_issuer,
        )

    async def mget() -> object:
        return await redis.mget(keys)

    app = service_app(verifier)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://service"
    ) as client:

        async def secured() -> object:
            response = await client.get("/secured", headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"secured endpoint: {response.status_code} {response.text}")
            return response

        async def open_() -> object:
            return await client.get("/open", headers=headers)

        # Warm-up: every path once at the run's size/10.
        for call in (lambda: verifier.verify(token), decode, mget, secured, open_):
            await per_call_us(max(50, sizes.verifies // 10), call)
        n, m = sizes.verifies, sizes.requests
        for _ in range(sizes.reps):
            results.add(
                "verify",
                "JwksVerifier.verify (cached JWKS + Redis MGET)",
                "µs",
                await per_call_us(n, lambda: verifier.verify(token)),
            )
            results.add(
                "decode", "raw: PyJWT jwt.decode, EdDSA", "µs", await per_call_us(n, decode)
            )
            results.add(
                "redis", f"raw: Redis MGET of {len(keys)} keys", "µs", await per_call_us(n, mget)
            )
            results.add(
                "secured",
                "FastAPI GET with CurrentPrincipal (ASGITransport)",
                "µs/req",
                await per_call_us(m, secured),
            )
            results.add(
                "open",
                "FastAPI GET, same endpoint without auth",
                "µs/req",
                await per_call_us(m, open_),
            )


# ---------------------------------------------------------------------------------------------
# (b) sign-in


async def sign_ins_per_s(
    client: httpx.AsyncClient, count: int, concurrency: int = SIGN_IN_CONCURRENCY
) -> tuple[float, float]:
    """Sign-ins per second, and this process's CPU per sign-in in ms (argon2 threads included)."""
    remaining = count

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await sign_in(client)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu_ms = time.perf_counter() - start, (time.process_time() - cpu) / count * 1000
    return count / elapsed, cpu_ms


def raw_verifies_per_s(
    hasher: Argon2Hasher, stored: str, count: int, threads: int
) -> tuple[float, float]:
    """Verifies per second in ``threads`` threads, and the process's CPU per verify in ms."""
    with ThreadPoolExecutor(threads) as pool:
        start, cpu = time.perf_counter(), time.process_time()
        done = list(pool.map(lambda _: hasher.verify(stored, PASSWORD), range(count)))
        elapsed, cpu_ms = time.perf_counter() - start, (time.process_time() - cpu) / count * 1000
    assert all(done)
    return count / elapsed, cpu_ms


def one_hash_ms(hasher: Argon2Hasher, stored: str, count: int) -> float:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def bench_sign_in(bench: Bench, sizes: Sizes, results: Results) -> None:
    settings = bench.settings
    hasher = raw_argon2(settings)
    stored = hasher.hash(PASSWORD)
    threads = settings.argon2_concurrency
    await sign_ins_per_s(bench.client, max(16, sizes.sign_ins // 4))  # warm-up
    await asyncio.to_thread(raw_verifies_per_s, hasher, stored, 8, threads)
    for _ in range(sizes.reps):
        rate, cpu_ms = await sign_ins_per_s(bench.client, sizes.sign_ins)
        results.add(
            "sign_in", f"POST /auth/sign-in, teacher, {SIGN_IN_CONCURRENCY} concurrent", "/s", rate
        )
        results.add("sign_in_cpu", "  process CPU per sign-in (argon2 included)", "ms", cpu_ms)
        rate, _ = await sign_ins_per_s(bench.client, max(10, sizes.sign_ins // 4), 1)
        results.add("sign_in_1", "POST /auth/sign-in, one at a time", "/s", rate)
        rate, cpu_ms = await asyncio.to_thread(
            raw_verifies_per_s, hasher, stored, sizes.hashes, threads
        )
        results.add("argon2_threads", f"raw: argon2id verify, {threads} threads", "/s", rate)
        results.add("argon2_cpu", "  process CPU per raw verify", "ms", cpu_ms)
        # Diagnostic: the same sign-in with the password check stubbed out (the stored hash
        # "matches" at once), to price everything else a sign-in does in the process.
        hasher_obj = bench.deps.auth_services.hasher
        real_verify = hasher_obj._verify  # a diagnostic stub, restored below
        setattr(hasher_obj, "_verify", lambda _stored, _password: True)  # noqa: B010
        try:
            rate, cpu_ms = await sign_ins_per_s(bench.client, sizes.sign_ins)
        finally:
            setattr(hasher_obj, "_verify", real_verify)  # noqa: B010
        results.add("no_argon2", "diagnostic: the same sign-in, argon2 stubbed out", "/s", rate)
        results.add("no_argon2_cpu", "  process CPU per sign-in without argon2", "ms", cpu_ms)
        results.add(
            "argon2_one",
            "raw: argon2id verify, one alone (median)",
            "ms",
            await asyncio.to_thread(one_hash_ms, hasher, stored, max(10, sizes.hashes // 6)),
        )


# ---------------------------------------------------------------------------------------------
# Report


ROWS: tuple[str, ...] = (
    "verify",
    "decode",
    "redis",
    "secured",
    "open",
    "sign_in",
    "sign_in_cpu",
    "sign_in_1",
    "argon2_threads",
    "argon2_cpu",
    "argon2_one",
    "no_argon2",
    "no_argon2_cpu",
)


def report(results: Results) -> dict[str, float]:
    med = results.median
    return {
        "verify / (decode + redis MGET)": ratio(med("verify"), med("decode") + med("redis")),
        "auth cost per request, µs (secured - open)": med("secured") - med("open"),
        "secured / open request": ratio(med("secured"), med("open")),
        "sign-in/s / raw argon2id verifies/s (same threads)": ratio(
            med("sign_in"), med("argon2_threads")
        ),
        "process CPU per sign-in / per raw verify": ratio(med("sign_in_cpu"), med("argon2_cpu")),
    }


def print_table(results: Results, ratios: dict[str, float], argon2: dict[str, int]) -> None:
    width = 56
    print()
    print(f"{'figure':<{width}} {'median':>10}  {'unit':<7} runs")
    print("-" * (width + 40))
    for key in ROWS:
        fig = results.figures.get(key)
        if fig is None:
            continue
        runs = " / ".join(f"{r:,.1f}" for r in fig.runs)
        print(f"{fig.label:<{width}} {fig.median:>10,.1f}  {fig.unit:<7} {runs}")
    print()
    print("ratios")
    for name, value in ratios.items():
        print(f"  {name:<{width - 2}} {value:>10.3f}")
    params = ", ".join(f"{k}={v}" for k, v in argon2.items())
    print(f"argon2id: {params}")


async def run(sizes: Sizes) -> dict[str, Any]:
    started = time.monotonic()
    load = os.getloadavg()
    results = Results()
    async with identity_app(uuid.uuid4().hex[:8]) as bench:
        token = (await sign_in(bench.client)).json()["access_token"]
        gc.collect()
        gc.freeze()
        setup_s = time.monotonic() - started
        await bench_tokens(bench, sizes, results, str(token))
        await bench_sign_in(bench, sizes, results)
        s = bench.settings
        argon2 = {
            "time_cost": s.argon2_time_cost,
            "memory_kib": s.argon2_memory_kib,
            "parallelism": s.argon2_parallelism,
            "concurrency": s.argon2_concurrency,
        }
    ratios = report(results)
    print_table(results, ratios, argon2)
    elapsed = time.monotonic() - started
    print(f"\nwhole run {elapsed:.0f} s (setup {setup_s:.0f} s)", end="; ")
    print(f"load average at start {load[0]:.2f}")
    print(f"results in {RESULTS}")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "uv run --no-sync python -m bench.identity " + " ".join(sys.argv[1:]),
        "machine": machine() | {"load_average_at_start": load},
        "versions": versions(("pyjwt", "cryptography", "argon2-cffi", "redis", "fastapi", "httpx")),
        "sizes": asdict(sizes),
        "argon2id": argon2,
        "sign_in_concurrency": SIGN_IN_CONCURRENCY,
        "trace_sample_ratio": TRACE_RATIO,
        "figures": {
            key: {"label": fig.label, "unit": fig.unit, "median": fig.median, "runs": fig.runs}
            for key, fig in results.figures.items()
        },
        "ratios": ratios,
        "seconds": elapsed,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.identity", description=(__doc__ or "").split("\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="one run of each, smaller")
    args = parser.parse_args(argv)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    out = asyncio.run(run(sizes))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
