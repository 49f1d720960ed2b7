"""Messages FinAssist itself puts on the event stream (RabbitMQ), beside Rasa's events.

Rasa streams every conversation event, masked (addons/event_broker.py), to a fanout
exchange that analytics and archive consumers read. What they stored cannot be taken
back from the queue, so an erasure publishes a notice on the same exchange for every
consumer to delete the customer's conversations (`actions.erasure`).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Rasa's PikaEventBroker publishes to this fanout exchange (rasa.core.brokers.pika).
RASA_EXCHANGE = "rasa-exchange"
CONNECT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class RabbitMQStream:
    """Publishes one JSON message to Rasa's fanout exchange."""

    host: str
    port: int = 5672
    username: str = "guest"
    password: str = field(default="guest", repr=False)
    exchange: str = RASA_EXCHANGE

    @property
    def where(self) -> str:
        """Where the message goes, for the receipt (no credentials)."""
        return f"RabbitMQ {self.host}:{self.port} exchange {self.exchange}"

    def publish(self, message: Mapping[str, Any]) -> None:
        """Publish, waiting for the broker's confirmation; raises on any failure.

        Runs its own event loop in a helper thread, so it works from plain code and
        from inside a running loop alike.
        """
        failure: list[BaseException] = []

        def send() -> None:
            try:
                asyncio.run(self._publish(dict(message)))
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=send, name="erasure-notice")
        worker.start()
        worker.join(CONNECT_TIMEOUT_S * 3)
        if worker.is_alive():
            raise TimeoutError("event broker did not answer")
        if failure:
            raise failure[0]

    async def _publish(self, message: dict[str, Any]) -> None:
        import aio_pika

        connection = await asyncio.wait_for(
            aio_pika.connect(
                host=self.host,
                port=self.port,
                login=self.username,
                password=self.password,
            ),
            CONNECT_TIMEOUT_S,
        )
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.declare_exchange(
                self.exchange, type=aio_pika.ExchangeType.FANOUT
            )
            await exchange.publish(
                aio_pika.Message(
                    json.dumps(message, ensure_ascii=False).encode("utf-8"),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key="",
            )
