"""Operator command for dead letters: list, show and replay them.

    hsdt-deadletters list   [--consumer archive]
    hsdt-deadletters show   --consumer archive <message-id>
    hsdt-deadletters replay --consumer archive <message-id> [...] | --all

The broker is taken from ``--amqp-url`` or ``HSDT_AMQP_URL``. Reading a queue over AMQP takes
its messages; this command takes them unacknowledged and returns every message it does not
replay, so listing changes nothing. A replayed message goes back to the consumer's own queue
with its attempts reset, and leaves the dead-letter queue only once the broker confirmed it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractIncomingMessage

from common.messaging.topology import (
    ATTEMPT_HEADER,
    CONSUMER_HEADER,
    ERROR_HEADER,
    ERROR_TYPE_HEADER,
    FAILED_AT_HEADER,
    dead_letter_queue_name,
    declare_dead_letter_queue,
    forward,
)

SERVICES = ("identity", "records", "attendance", "signing", "archive")

MAX_SCAN = 10_000


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    event_type: str
    attempts: int
    error: str
    error_type: str
    failed_at: str
    body: bytes

    def summary(self) -> dict[str, Any]:
        return {
            "message_id": self.message_id,
            "event_type": self.event_type,
            "attempts": self.attempts,
            "error_type": self.error_type,
            "error": self.error,
            "failed_at": self.failed_at,
        }


def _dead_letter(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    return DeadLetter(
        message_id=message.message_id or "",
        event_type=message.type or "",
        attempts=int(str(headers.get(ATTEMPT_HEADER, 1))) - 1,
        error=str(headers.get(ERROR_HEADER, "")),
        error_type=str(headers.get(ERROR_TYPE_HEADER, "")),
        failed_at=str(headers.get(FAILED_AT_HEADER, "")),
        body=message.body,
    )


async def list_dead_letters(
    amqp_url: str, consumer: str, limit: int = MAX_SCAN, *, passive: bool = False
) -> list[DeadLetter]:
    """The dead letters of ``consumer``; with ``passive``, none when it has no queue yet."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        if passive:
            try:
                queue = await channel.get_queue(dead_letter_queue_name(consumer), ensure=True)
            except aiormq.exceptions.ChannelNotFoundEntity:
                return []
        else:
            queue = await declare_dead_letter_queue(channel, consumer)
        found: list[DeadLetter] = []
        while len(found) < limit:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            found.append(_dead_letter(message))
        # Closing the channel returns every message taken; nothing was acknowledged.
        await channel.close()
        return found
    finally:
        await connection.close()


async def replay_dead_letters(
    amqp_url: str, consumer: str, message_ids: Sequence[str] | None
) -> list[str]:
    """Send the chosen dead letters (all when ``message_ids`` is None) back to the consumer."""
    wanted = None if message_ids is None else set(message_ids)
    connection = await aio_pika.connect(amqp_url)
    replayed: list[str] = []
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await declare_dead_letter_queue(channel, consumer)
        for _ in range(MAX_SCAN):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                break
            if wanted is not None and message.message_id not in wanted:
                continue
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in {ERROR_HEADER, ERROR_TYPE_HEADER, FAILED_AT_HEADER, CONSUMER_HEADER}
            }
            headers[ATTEMPT_HEADER] = 1
            await forward(channel, message, consumer, headers)
            await message.ack()
            replayed.append(message.message_id or "")
        await channel.close()
    finally:
        await connection.close()
    return replayed


def _list(args: argparse.Namespace) -> int:
    consumers = [args.consumer] if args.consumer else list(SERVICES)

    async def gather() -> dict[str, list[DeadLetter]]:
        return {
            c: await list_dead_letters(args.amqp_url, c, passive=not args.consumer)
            for c in consumers
        }

    found = asyncio.run(gather())
    if args.json:
        shown = {c: [d.summary() for d in letters] for c, letters in found.items()}
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    for consumer, letters in found.items():
        for d in letters:
            print(f"{d.message_id}  {d.event_type}  attempts={d.attempts}  {d.failed_at}")
            print(f"    {d.error_type}: {d.error}")
        print(f"{len(letters)} dead letter(s) in {consumer}")
    return 0


def _show(args: argparse.Namespace) -> int:
    for d in asyncio.run(list_dead_letters(args.amqp_url, args.consumer)):
        if d.message_id == args.message_id:
            shown = {**d.summary(), "event": json.loads(d.body)}
            print(json.dumps(shown, ensure_ascii=False, indent=2))
            return 0
    print(f"no dead letter {args.message_id} in {args.consumer}", file=sys.stderr)
    return 1


def _replay(args: argparse.Namespace) -> int:
    ids = None if args.all else args.message_ids
    replayed = asyncio.run(replay_dead_letters(args.amqp_url, args.consumer, ids))
    for mid in replayed:
        print(f"replayed {mid}")
    missing = sorted(set(ids or []) - set(replayed))
    for mid in missing:
        print(f"not found: {mid}", file=sys.stderr)
    return 1 if missing else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hsdt-deadletters", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--amqp-url",
        default=os.environ.get("HSDT_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/hsdt"),
    )
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {"list": _list, "show": _show, "replay": _replay}
    for name in commands:
        p = sub.add_parser(name)
        p.add_argument(
            "--consumer",
            required=name != "list",
            help="the consumer whose dead letters (list: every service's when omitted)",
        )
    sub.choices["list"].add_argument("--json", action="store_true")
    sub.choices["show"].add_argument("message_id")
    sub.choices["replay"].add_argument("message_ids", nargs="*")
    sub.choices["replay"].add_argument("--all", action="store_true", help="every dead letter")
    args = parser.parse_args(argv)
    if args.command == "replay" and not args.all and not args.message_ids:
        parser.error("replay needs message ids or --all")
    return commands[args.command](args)


if __name__ == "__main__":
    raise SystemExit(main())
