"""``hsdt-declare-queues SERVICE…``: declare each service's consumer queues and bindings.

A worker declares its queue when it starts; an event published before that (a demo loaded, a
service deployed before its consumer) would find no queue and be dropped by the exchange. The
run command and a deployment's migration step call this first, so the topology exists before
any producer runs: like a schema migration, but for the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys

import aio_pika

from common.messaging.consumer import Subscriptions
from common.messaging.topology import declare_consumer_queues, declare_exchange
from common.settings import CommonSettings


def _subscriptions(service: str) -> Subscriptions:
    module = importlib.import_module(f"{service}.consumers")
    subscriptions: Subscriptions = module.SUBSCRIPTIONS
    return subscriptions


def _settings(service: str) -> CommonSettings:
    module = importlib.import_module(f"{service}.settings")
    cls = next(
        v
        for k, v in vars(module).items()
        if k.endswith("Settings")
        and isinstance(v, type)
        and issubclass(v, CommonSettings)
        and v is not CommonSettings
    )
    settings: CommonSettings = cls()
    return settings


async def declare(service: str) -> list[str]:
    """Declare ``service``'s queues; returns the event types it is bound to."""
    settings = _settings(service)
    types = sorted(cls.event_type for cls in _subscriptions(service))
    if not types:
        return []
    connection = await aio_pika.connect(settings.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await declare_exchange(channel, settings.events_exchange)
        await declare_consumer_queues(
            channel, exchange, settings.service_name, types, settings.consumer_retry_delays
        )
    return types


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hsdt-declare-queues", description=__doc__)
    parser.add_argument("services", nargs="+", help="service packages, e.g. records attendance")
    args = parser.parse_args(argv)
    for service in args.services:
        types = asyncio.run(declare(service))
        print(f"{service}: {len(types)} event type(s) bound", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
