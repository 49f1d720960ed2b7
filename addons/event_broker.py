"""A RabbitMQ event broker that publishes masked events only.

Rasa streams every new event of a conversation to the broker (for analytics, the data
warehouse, audit). The stream must be as free of personal data as the tracker store:
this is Rasa's `PikaEventBroker` with each event masked (`addons.tracker_store.
mask_value`: card, ID, phone, e-mail and account numbers replaced, login tokens
dropped) before it is published. Configured in `endpoints.production.yml`.
"""

from __future__ import annotations

from typing import Any

from rasa.core.brokers.pika import PikaEventBroker

from addons.tracker_store import mask_value


class MaskingPikaEventBroker(PikaEventBroker):
    """`PikaEventBroker` publishing masked copies of events."""

    def publish(
        self, event: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        """Mask, then publish as Rasa would (the caller's dict is not changed)."""
        super().publish(mask_value(event), headers)
