"""The masking tracker store writes no personal data or login token to the database."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons import tracker_store
from addons.tracker_store import MaskingSQLTrackerStore, mask_value

CARD, PHONE, ID = "6222021234567890128", "13812345678", "11010519491231002X"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDMDAxIn0.sig"


def tracker(sender: str) -> DialogueStateTracker:
    text = f"我卡号{CARD}，手机{PHONE}，身份证{ID}，查下余额"
    events = [
        SlotSet("session_started_metadata", {"auth_token": TOKEN}),
        ActionExecuted("action_listen"),
        UserUttered(
            text,
            {"name": "check_balance", "confidence": 1.0},
            [{"entity": "recipient", "value": f"卡{CARD}", "start": 0, "end": 3}],
            parse_data={"text": text, "intent": {"name": "check_balance"}},
            metadata={"auth_token": TOKEN},
        ),
        SlotSet("recipient", f"给{PHONE}"),
        BotUttered(f"已收到，您的卡 {CARD}"),
    ]
    return DialogueStateTracker.from_events(sender, events)


def test_mask_value_is_deep_and_drops_secrets() -> None:
    value = {"a": [f"card {CARD}", {"auth_token": TOKEN}], "b": 3, "c": None}
    assert mask_value(value) == {
        "a": ["card [CARD ****0128]", {"auth_token": "[REDACTED]"}],
        "b": 3,
        "c": None,
    }


async def assert_store_masks(url: str) -> None:
    store = MaskingSQLTrackerStore(host=url)
    live = tracker(f"conv-{uuid.uuid4().hex[:8]}")
    await store.save(live)
    with store.engine.connect() as conn:
        rows = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": live.sender_id},
            )
        ]
    stored = "\n".join(rows)
    assert len(rows) == len(live.events)
    for secret in (CARD, PHONE, ID, TOKEN):
        assert secret not in stored
    user = next(json.loads(r) for r in rows if json.loads(r)["event"] == "user")
    assert user["text"].startswith("我卡号[CARD ****0128]")
    assert user["parse_data"]["text"] == user["text"]
    # The live tracker in memory keeps the raw text for NLU and the actions.
    assert CARD in live.latest_message.text
    restored = await store.retrieve(live.sender_id)
    assert restored is not None and "[CARD ****0128]" in restored.latest_message.text
    store.engine.dispose()


async def test_sqlite_store_masks(tmp_path: Path) -> None:
    await assert_store_masks(f"sqlite:///{tmp_path / 'trackers.db'}")


@pytest.mark.integration
async def test_postgres_store_masks() -> None:
    base = os.environ.get(
        "FINASSIST_TEST_PG_URL",
        "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
    )
    name = f"finassist_trackers_{uuid.uuid4().hex[:8]}"
    try:
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.SQLAlchemyError as exc:
        pytest.skip(f"no PostgreSQL at {base}: {type(exc).__name__}")
    url = sa.engine.make_url(base).set(database=name)
    try:
        await assert_store_masks(url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class RecordingBroker:
    """An event broker that keeps what it is given."""

    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


async def test_broker_gets_each_new_event_once_masked_without_a_tracker_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = RecordingBroker()
    store = MaskingSQLTrackerStore(
        host=f"sqlite:///{tmp_path / 'trackers.db'}",
        event_broker=broker,  # type: ignore[arg-type]
    )

    async def no_read(sender_id: str) -> None:
        raise AssertionError("save read the stored tracker back")

    monkeypatch.setattr(store, "retrieve", no_read)
    live = tracker("conv-broker")
    await store.save(live)
    assert len(broker.published) == len(live.events)
    live.update(UserUttered(f"再查一次 {CARD}"))
    live.update(BotUttered("好的"))
    await store.save(live)
    assert len(broker.published) == len(live.events)  # only the two new ones added
    assert [e["event"] for e in broker.published[-2:]] == ["user", "bot"]
    assert all(e["sender_id"] == "conv-broker" for e in broker.published)
    streamed = json.dumps(broker.published, ensure_ascii=False)
    for secret in (CARD, PHONE, ID, TOKEN):
        assert secret not in streamed
    store.engine.dispose()


def statements(store: MaskingSQLTrackerStore) -> list[str]:
    """The SQL the store sends from now on."""
    sent: list[str] = []
    sa.event.listen(
        store.engine,
        "before_cursor_execute",
        lambda conn, cursor, statement, *args: sent.append(statement.lower()),
    )
    return sent


def stored_texts(store: MaskingSQLTrackerStore, sender: str) -> list[str]:
    with store.engine.connect() as conn:
        return [
            json.loads(r[0]).get("text") or json.loads(r[0])["event"]
            for r in conn.execute(
                sa.text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            )
        ]


async def test_save_of_a_read_tracker_stores_new_events_without_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = RecordingBroker()
    store = MaskingSQLTrackerStore(
        host=f"sqlite:///{tmp_path / 'trackers.db'}",
        event_broker=broker,  # type: ignore[arg-type]
    )
    await store.save(tracker("conv-known"))
    turn = await store.retrieve("conv-known")  # as Rasa does at the start of a turn
    assert turn is not None
    sent = statements(store)
    masked: list[str] = []
    make_masked = tracker_store._MaskedEvent.__init__

    def count_masking(self: object, event: Any) -> None:
        masked.append(event.type_name)
        make_masked(self, event)

    monkeypatch.setattr(tracker_store._MaskedEvent, "__init__", count_masking)
    turn.update(UserUttered("再查一次"))
    turn.update(BotUttered("好的"))
    await store.save(turn)
    assert not [s for s in sent if "count(" in s]
    assert masked == ["user", "bot"]  # once each, for the broker and the table
    assert stored_texts(store, "conv-known")[-2:] == ["再查一次", "好的"]
    assert len(stored_texts(store, "conv-known")) == len(turn.events)
    assert [e["event"] for e in broker.published[-2:]] == ["user", "bot"]
    assert len(broker.published) == len(turn.events)

    # A tracker this process did not read is counted once, as Rasa does it.
    other = tracker("conv-known")
    for event in list(turn.events)[len(other.events) :]:
        other.update(event)
    other.update(UserUttered("第三次"))
    await store.save(other)
    assert len([s for s in sent if "count(" in s]) == 1
    assert stored_texts(store, "conv-known")[-1] == "第三次"
    assert len(stored_texts(store, "conv-known")) == len(other.events)
    store.engine.dispose()


async def test_events_erased_during_a_turn_are_not_stored_again(tmp_path: Path) -> None:
    store = MaskingSQLTrackerStore(host=f"sqlite:///{tmp_path / 'trackers.db'}")
    await store.save(tracker("conv-erased"))
    turn = await store.retrieve("conv-erased")
    assert turn is not None
    with store.engine.begin() as conn:  # the desk erases the customer meanwhile
        conn.execute(sa.text("DELETE FROM events WHERE sender_id = 'conv-erased'"))
    turn.update(BotUttered("好的"))
    await store.save(turn)
    assert stored_texts(store, "conv-erased") == ["好的"]
    store.engine.dispose()
