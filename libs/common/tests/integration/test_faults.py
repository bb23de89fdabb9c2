"""Faults lose nothing and double nothing: broker and database restarts, a killed consumer, a
poison message (DESIGN.md, Events; issue #2).

These restart the machine's shared servers, so they run one at a time (marker ``faults``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from common.db import create_sessionmaker
from common.deadletters import list_dead_letters
from common.testing import Unique, rabbitmqctl, wait_until
from common.uow import UnitOfWork

from .support import Pinged, effect_counts, effects, emit_pings, running_world, writes

pytestmark = [pytest.mark.faults, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[4]


async def _effects_reach(engine: AsyncEngine, total: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sum((await effect_counts(engine)).values()) >= total

    return check


async def _write_pings(uow: UnitOfWork, numbers: range, *, retry_outages: bool = False) -> None:
    for n in numbers:
        while True:
            try:
                async with uow:
                    await uow.session.execute(insert(writes).values(n=n))
                    uow.emit(Pinged(key=f"k{n}", n=n))
                    await uow.commit()
                break
            except (DBAPIError, OSError):
                # The database went away mid-transaction: nothing was committed, so the
                # writer (a client retrying its request) tries again.
                if not retry_outages:
                    raise
                await asyncio.sleep(0.2)


async def test_ten_thousand_events_survive_a_broker_restart_exactly_once(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    total, writers = 10_000, 8
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
        retry_delays=(0.2, 0.5),
    ) as world:
        sessionmaker = create_sessionmaker(world.engine)
        chunks = [range(i, total, writers) for i in range(writers)]
        producing = [
            asyncio.create_task(_write_pings(UnitOfWork(sessionmaker, source="test"), chunk))
            for chunk in chunks
        ]
        # Stop the broker once the stream is flowing, with events in every stage.
        assert await wait_until(_effects_started(world.engine), timeout=120)
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        try:
            await asyncio.sleep(2)
        finally:
            await asyncio.to_thread(rabbitmqctl, "start_app")
        await asyncio.gather(*producing)
        assert await wait_until(
            await _effects_reach(world.engine, total), timeout=480, interval=0.5
        )
        await asyncio.sleep(1)  # room for a late duplicate to show itself
        counts = await effect_counts(world.engine)
        assert await world.relay.unsent() == 0
    missing = [n for n in range(total) if n not in counts]
    doubled = {n: c for n, c in counts.items() if c != 1}
    assert not missing, f"{len(missing)} events lost, e.g. {missing[:5]}"
    assert not doubled, (
        f"{len(doubled)} events applied more than once, e.g. {list(doubled.items())[:5]}"
    )
    assert len(counts) == total


def _effects_started(engine: AsyncEngine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sum((await effect_counts(engine)).values()) >= 500

    return check


async def test_consumer_killed_mid_message_applies_the_effect_once(
    database_url: str, amqp_url: str, unique: Unique, tmp_path: Path
) -> None:
    exchange, name = unique("ex"), unique("c")
    marker = tmp_path / "stalled"
    total, stall_n = 40, 17

    def spawn() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "libs.common.tests.integration.consumer_process",
                database_url,
                amqp_url,
                exchange,
                name,
                str(stall_n),
                str(marker),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )

    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=exchange,
        consumer_name=name,
        start_consumer=False,
    ) as world:
        first = spawn()
        try:
            assert first.stdout is not None
            assert (await asyncio.to_thread(first.stdout.readline)).strip() == "ready"
            await emit_pings(world.producer_uow, range(total))
            assert await wait_until(lambda: _exists(marker), timeout=30)
            # Killed while its effect for stall_n is written but not committed.
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        second = spawn()
        try:
            assert await wait_until(await _effects_reach(world.engine, total), timeout=60)
            await asyncio.sleep(1)
            counts = await effect_counts(world.engine)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=10)
    assert counts == dict.fromkeys(range(total), 1)


async def _exists(path: Path) -> bool:
    return path.exists()


async def test_poison_message_is_dead_lettered_then_replayed_after_the_fix(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    fixed = asyncio.Event()
    attempts: list[int] = []

    async def fragile(event: Pinged, uow: UnitOfWork) -> None:
        if event.n == 13 and not fixed.is_set():
            attempts.append(event.n)
            raise ValueError("cannot handle thirteen")
        await uow.session.execute(insert(effects).values(event_id=event.key, n=event.n))

    name = unique("c")
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=name,
        handlers=[fragile],
        retry_delays=(0.05, 0.1, 0.2),
    ) as world:
        await emit_pings(world.producer_uow, range(20))
        assert await wait_until(await _effects_reach(world.engine, 19), timeout=20)
        assert await wait_until(lambda: _dead_count(amqp_url, name, 1), timeout=20)
        # Four deliveries; the handler may have run more often, since a batch that failed
        # is rolled back and retried message by message.
        assert len(attempts) >= world.consumer.max_attempts == 4
        [letter] = await list_dead_letters(amqp_url, name)
        assert letter.event_type == Pinged.event_type
        assert letter.error_type == "ValueError"
        assert "cannot handle thirteen" in letter.error
        assert letter.attempts == 4
        # Listing changed nothing: the letter is still there.
        assert len(await list_dead_letters(amqp_url, name)) == 1

        fixed.set()
        replay = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "common.deadletters",
                "--amqp-url",
                amqp_url,
                "replay",
                "--consumer",
                name,
                letter.message_id,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert replay.returncode == 0, replay.stderr
        assert f"replayed {letter.message_id}" in replay.stdout
        assert await wait_until(await _effects_reach(world.engine, 20), timeout=20)
        await asyncio.sleep(0.5)
        assert await effect_counts(world.engine) == dict.fromkeys(range(20), 1)
        assert await list_dead_letters(amqp_url, name) == []


async def _dead_count(amqp_url: str, consumer: str, n: int) -> bool:
    return len(await list_dead_letters(amqp_url, consumer)) >= n


async def test_malformed_message_goes_straight_to_dead_letters(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    name, exchange = unique("c"), unique("ex")
    async with running_world(
        database_url=database_url, amqp_url=amqp_url, exchange=exchange, consumer_name=name
    ) as world:
        ex = await world.bus.exchange()
        await ex.publish(
            aio_pika.Message(
                b'{"specversion":"1.0","type":"vn.hsdt.test.ping.sent.v1"}', message_id="bad-1"
            ),
            routing_key=Pinged.event_type,
        )
        assert await wait_until(lambda: _dead_count(amqp_url, name, 1), timeout=10)
        [letter] = await list_dead_letters(amqp_url, name)
        assert letter.message_id == "bad-1"
        assert letter.error_type == "PoisonMessage"
        assert letter.attempts == 1


async def test_relay_recovers_from_a_database_restart(
    database_url: str, amqp_url: str, unique: Unique
) -> None:
    total = 2_000
    async with running_world(
        database_url=database_url,
        amqp_url=amqp_url,
        exchange=unique("ex"),
        consumer_name=unique("c"),
        retry_delays=(0.5, 1.0),
    ) as world:
        sessionmaker = create_sessionmaker(world.engine)
        producing = [
            asyncio.create_task(
                _write_pings(
                    UnitOfWork(sessionmaker, source="test"), range(i, total, 4), retry_outages=True
                )
            )
            for i in range(4)
        ]
        assert await wait_until(_effects_started(world.engine), timeout=120)
        await asyncio.to_thread(_restart_postgresql)
        await asyncio.gather(*producing)
        assert await wait_until(
            await _effects_reach(world.engine, total), timeout=300, interval=0.5
        )
        await asyncio.sleep(1)
        counts = await effect_counts(world.engine)
        assert await world.relay.unsent() == 0
        assert world.relay.stats.errors, "the restart should have been noticed by the relay"
    assert counts == dict.fromkeys(range(total), 1)


def _restart_postgresql() -> None:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart", "-m", "fast"],
        check=True,
        timeout=120,
        capture_output=True,
    )
