"""One robust connection to RabbitMQ per process, and the events exchange on it."""

from __future__ import annotations

import asyncio

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from common.messaging.topology import declare_exchange


class Bus:
    def __init__(self, amqp_url: str, exchange_name: str) -> None:
        self._url = amqp_url
        self.exchange_name = exchange_name
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> AbstractRobustConnection:
        if self._connection is None:
            self._connection = await aio_pika.connect_robust(
                self._url, client_properties={"connection_name": self.exchange_name}
            )
        return self._connection

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise RuntimeError("Bus.connect() first")
        return self._connection

    def is_connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def exchange(self) -> AbstractExchange:
        """The events exchange on a confirming channel, reopened if the channel died."""
        async with self._lock:
            if self._exchange is None or self._channel is None or self._channel.is_closed:
                connection = await self.connect()
                self._channel = await connection.channel(publisher_confirms=True)
                self._exchange = await declare_exchange(self._channel, self.exchange_name)
            return self._exchange

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None
            self._channel = self._exchange = None
