"""The RabbitMQ event stream carries masked events only (the live test is in
tests/integration/test_replicas.py)."""

from __future__ import annotations

from rasa.core.brokers.pika import PikaEventBroker

from addons.event_broker import MaskingPikaEventBroker


def test_events_are_masked_before_they_are_published(monkeypatch) -> None:
    published = []
    monkeypatch.setattr(
        PikaEventBroker,
        "publish",
        lambda self, event, headers=None: published.append(event),
    )
    broker = MaskingPikaEventBroker.__new__(MaskingPikaEventBroker)
    event = {
        "event": "user",
        "sender_id": "c1",
        "text": "卡号6222021234567890128，手机13812345678",
        "metadata": {"auth_token": "eyJ.secret.token"},
        "parse_data": {"text": "卡号6222021234567890128"},
    }
    broker.publish(event)
    [sent] = published
    assert sent["text"] == "卡号[CARD ****0128]，手机[PHONE ***5678]"
    assert sent["parse_data"]["text"] == "卡号[CARD ****0128]"
    assert sent["metadata"]["auth_token"] == "[REDACTED]"
    assert event["text"].startswith("卡号6222")  # the caller's event is not changed
