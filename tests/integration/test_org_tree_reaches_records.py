"""Identity's org tree reaches records over the bus: identity's outbox and relay publish
``identity.orgunit.created``, records' consumer keeps its copy; a replay changes nothing.

Both workers run in this process (``common.worker.run_worker``) against their own databases on
one test vhost, the way ``python -m <svc>.worker`` runs them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aio_pika
import aio_pika.exceptions
from pydantic import SecretStr
from sqlalchemy import func, select, update

from common.db import create_engine, create_sessionmaker
from common.demo import all_schools, demo_id
from common.messaging.tables import outbox
from common.testing import DatabaseFactory, Unique, alembic, wait_until
from common.worker import run_worker
from identity.consumers import SUBSCRIPTIONS as IDENTITY_SUBSCRIPTIONS
from identity.demo import load_demo
from identity.settings import IdentitySettings
from identity.uow import IdentityUnitOfWork
from records.consumers import SUBSCRIPTIONS as RECORDS_SUBSCRIPTIONS
from records.models import OrgUnitRow
from records.settings import RecordsSettings
from records.uow import RecordsUnitOfWork

ROOT = Path(__file__).resolve().parents[2]


def _migrate(service: str, url: str) -> None:
    alembic(service, url)


async def test_org_units_created_in_identity_reach_records_once(
    make_database: DatabaseFactory, amqp_url: str, unique: Unique
) -> None:
    identity_url = await make_database(unique("orgflow_id").replace("-", "_"))
    records_url = await make_database(unique("orgflow_rec").replace("-", "_"))
    _migrate("identity", identity_url)
    _migrate("records", records_url)
    exchange = unique("events")
    identity_settings = IdentitySettings(
        database_url=identity_url,
        amqp_url=amqp_url,
        events_exchange=exchange,
        key_passphrase=SecretStr("test-key-passphrase-not-a-secret"),
        data_key=SecretStr("test-data-key-not-a-secret-0123456789"),
    )
    records_settings = RecordsSettings(
        database_url=records_url,
        amqp_url=amqp_url,
        events_exchange=exchange,
        data_key=SecretStr("test-records-data-key-not-a-secret-0123456789"),
    )
    identity_engine = create_engine(identity_url)
    records_engine = create_engine(records_url)
    identity_sessions = create_sessionmaker(identity_engine)

    def identity_uow() -> IdentityUnitOfWork:
        return IdentityUnitOfWork(identity_sessions, source="identity")

    records_sessions = create_sessionmaker(records_engine)
    stop = asyncio.Event()
    workers = [
        asyncio.create_task(
            run_worker(
                settings=identity_settings,
                engine=identity_engine,
                uow_factory=identity_uow,
                subscriptions=IDENTITY_SUBSCRIPTIONS,
                stop=stop,
            )
        ),
        asyncio.create_task(
            run_worker(
                settings=records_settings,
                engine=records_engine,
                uow_factory=lambda: RecordsUnitOfWork(records_sessions, source="records"),
                subscriptions=RECORDS_SUBSCRIPTIONS,
                stop=stop,
            )
        ),
    ]
    expected = 1 + 2 + len(all_schools())  # the department, two districts, the schools

    async def units() -> int:
        async with records_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(OrgUnitRow)) or 0)

    try:
        # Identity publishes only once records' queue is bound; before that, events would go
        # to the unrouted queue (as they would for a consumer deployed after the producer).
        async def queue_declared() -> bool:
            connection = await aio_pika.connect(amqp_url)
            try:
                channel = await connection.channel()
                await channel.declare_queue("records", passive=True)
            except aio_pika.exceptions.ChannelClosed:
                return False
            finally:
                await connection.close()
            return True

        assert await wait_until(queue_declared, timeout=30, interval=0.2)
        result = await load_demo(identity_uow(), "a demo password of enough length")
        assert result.created

        async def all_arrived() -> bool:
            return await units() >= expected

        assert await wait_until(all_arrived, timeout=30)
        async with records_sessions() as session:
            school = await session.get(OrgUnitRow, demo_id("unit", "BL-DX-THCS01"))
        assert school is not None
        assert school.kind == "school"
        assert school.levels == ["lower_secondary"]
        assert school.district_id == demo_id("unit", "BL-DX")
        assert school.province_id == demo_id("unit", "BL")
        # Publishing the same events again (a relay that crashed before marking them sent)
        # changes nothing: the inbox and the upsert both hold.
        async with identity_uow() as uow:
            await uow.session.execute(update(outbox).values(sent_at=None))
            await uow.commit()

        async def republished() -> bool:
            async with identity_uow() as uow:
                unsent = await uow.session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
                )
            return unsent == 0

        assert await wait_until(republished, timeout=30)
        await asyncio.sleep(1.0)  # let the consumer take the redeliveries
        assert await units() == expected
    finally:
        stop.set()
        await asyncio.gather(*(asyncio.wait_for(w, 30) for w in workers))
        await identity_engine.dispose()
        await records_engine.dispose()
