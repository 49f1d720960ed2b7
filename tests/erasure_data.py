"""Conversations and profile rows of two customers, for the erasure tests.

C002 (to be erased) and C001 (must stay untouched) each get conversations in the real
masking tracker store and the profile rows that the actions write for them: channel
identities, interactions, emotion records, handoff tickets and a transfer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine

from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import session_scope
from addons.tracker_store import MaskingSQLTrackerStore
from tests.db import payee_id

PHONE = "13812345678"
# C002's conversations: profile rows link the first two; only the tracker's
# `customer_id` slot links the third.
C002_WEB, C002_APP, C002_TRACKER_ONLY = "web-c002-1", "app-c002-2", "rest-c002-3"
C001_APP = "app-c001-1"
ANONYMOUS = "anon-1"


@dataclass(frozen=True)
class Population:
    erased: tuple[str, ...]  # C002's conversations
    kept: tuple[str, ...]  # everyone else's
    events: dict[str, int]  # stored events per conversation


def conversation(sender: str, customer: str | None, text: str) -> DialogueStateTracker:
    events: list[Any] = [ActionExecuted("action_session_start"), SessionStarted()]
    if customer:
        events.append(SlotSet("customer_id", customer))
    events += [
        ActionExecuted("action_listen"),
        UserUttered(text, {"name": "check_balance", "confidence": 1.0}),
        BotUttered("好的"),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events(sender, events)


def record_conversation(
    repo: ProfileRepository, customer: str, conversation_id: str, ticket: bool
) -> None:
    """What the actions write while serving a logged-in customer."""
    repo.record_channel_identity(customer, "socketio", conversation_id)
    repo.record_interaction(
        customer_id=customer,
        conversation_id=conversation_id,
        channel="socketio",
        topic="transfer",
        outcome="handoff" if ticket else "done",
    )
    repo.record_emotion(
        conversation_id=conversation_id,
        customer_id=customer,
        emotion="anxious",
        score=-0.7,
        urgent=True,
        intent="report_lost_card",
        topic="lost_card",
    )
    if ticket:
        repo.open_handoff(
            conversation_id=conversation_id,
            customer_id=customer,
            channel="socketio",
            language="en",
            reason="high_stakes",
            topic="lost_card",
            emotion="anxious",
            urgent=True,
            base_priority=80,
            summary=json.dumps({"text": f"customer phone {PHONE} lost card"}),
        )


async def populate(
    repo: ProfileRepository, engine: Engine, store: MaskingSQLTrackerStore
) -> Population:
    record_conversation(repo, "C002", C002_WEB, ticket=True)
    # Before logging in, the emotion of a message is stored without a customer.
    repo.record_emotion(
        conversation_id=C002_APP,
        customer_id=None,
        emotion="calm",
        score=0.3,
        urgent=False,
        intent="greet",
        topic=None,
    )
    repo.execute_transfer(
        customer_id="C002",
        payee_id=payee_id(engine, "C002", "Alice Zhang"),
        amount=Decimal("100.00"),
        idempotency_key="erasure-c002",
        conversation_id=C002_APP,
    )
    # Ratings: C002's own, one given before logging in, and another customer's.
    repo.record_rating(
        conversation_id=C002_WEB,
        customer_id="C002",
        channel="socketio",
        score=4,
        comment="quick",
    )
    repo.record_rating(
        conversation_id=C002_APP, customer_id=None, channel="rest", score=3
    )
    record_conversation(repo, "C001", C001_APP, ticket=True)
    repo.record_rating(
        conversation_id=C001_APP, customer_id="C001", channel="rest", score=5
    )
    # The A/B variant each saw: C002's goes with them, C001's stays.
    for who, chat in (("C002", C002_WEB), ("C001", C001_APP)):
        repo.record_experiment_assignment(
            experiment="reply_tone",
            variant="empathetic",
            customer_id=who,
            conversation_id=chat,
        )
    # C001 pays C002: a payee of C001's that credits C002's account.
    repo.execute_transfer(
        customer_id="C001",
        payee_id=payee_id(engine, "C001", "Emma Walker"),
        amount=Decimal("50.00"),
        idempotency_key="erasure-c001",
        conversation_id=C001_APP,
    )
    trackers = [
        conversation(C002_WEB, "C002", f"my phone is {PHONE}, I lost my card"),
        conversation(C002_APP, "C002", "send Alice 100"),
        conversation(C002_TRACKER_ONLY, "C002", "what is my balance"),
        conversation(C001_APP, "C001", "给Emma转50"),
        conversation(ANONYMOUS, None, "房贷利率多少"),
    ]
    for tracker in trackers:
        await store.save(tracker)
    return Population(
        erased=(C002_WEB, C002_APP, C002_TRACKER_ONLY),
        kept=(C001_APP, ANONYMOUS),
        events={t.sender_id: len(t.events) for t in trackers},
    )


def stored_events(store: MaskingSQLTrackerStore) -> dict[str, int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT sender_id, COUNT(*) FROM events GROUP BY sender_id")
        ).all()
    return {sender: count for sender, count in rows}


def rows_of_others(
    engine: Engine, customer: str, conversations: tuple[str, ...]
) -> dict[str, list[tuple[Any, ...]]]:
    """Every profile row that belongs neither to `customer` nor to their conversations."""
    snapshot = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for name in sorted(inspector.get_table_names()):
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            query = sa.select(table)
            if name == "customers":
                query = query.where(table.c.id != customer)
            if "customer_id" in table.c:
                query = query.where(
                    sa.or_(
                        table.c.customer_id.is_(None),
                        table.c.customer_id != customer,
                    )
                )
            if "conversation_id" in table.c:
                query = query.where(
                    sa.or_(
                        table.c.conversation_id.is_(None),
                        table.c.conversation_id.not_in(conversations),
                    )
                )
            snapshot[name] = sorted(
                tuple(map(repr, row)) for row in conn.execute(query).all()
            )
    return snapshot


def rows_of(engine: Engine, model: Any, customer: str) -> list[Any]:
    with session_scope(engine) as s:
        return list(
            s.execute(sa.select(model).where(model.customer_id == customer)).scalars()
        )


def transfer_legs(engine: Engine) -> list[tuple[str, Decimal]]:
    with session_scope(engine) as s:
        return [
            tuple(row)  # type: ignore[misc]
            for row in s.execute(
                sa.select(m.Transaction.customer_id, m.Transaction.amount)
                .where(m.Transaction.transfer_id.is_not(None))
                .order_by(m.Transaction.id)
            ).all()
        ]
