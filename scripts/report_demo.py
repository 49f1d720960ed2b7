"""Simulated conversations for showing `make report` without production data.

`python scripts/report.py --seed-demo N` calls `seed_demo`: a fresh SQLite profile DB
(Alembic schema) and a fresh tracker store (Rasa's own SQL schema, written through the
masking tracker store) in a throwaway directory, filled with N conversations in Chinese
and English on the web page and the app: balances, mortgages, transfers, lost cards,
FAQs, complaints, fallbacks, risk refusals; handoffs with agent turns, ratings, risk
alerts and A/B assignments. The same seed gives the same data. Experiment
``reply_tone`` has a real effect (the empathetic wording avoids some distress
handoffs and is rated higher); ``offer_human`` has none.
"""

from __future__ import annotations

import asyncio
import logging
import random
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from actions import experiments as ab
from actions.profile_db import models as m
from actions.profile_db.session import make_engine, session_scope

PROFILE_DB = "demo-profile.db"
TRACKER_DB = "demo-trackers.db"
DAYS = 30
# How the simulated reply_tone experiment works: empathetic wording multiplies the
# chance of a distress handoff by this and lifts the mean rating by RATING_LIFT.
EMPATHY_HANDOFF_FACTOR = 0.45
EMPATHY_RATING_LIFT = 0.4

# Sample customer messages per intent: (zh, en). No personal data.
TEXTS = {
    "greet": ("你好", "hi there"),
    "goodbye": ("好的，再见", "bye, thanks"),
    "thank": ("谢谢", "thank you"),
    "affirm": ("对，确认", "yes, go ahead"),
    "deny": ("不用了", "no, cancel that"),
    "inform": ("三十年", "30 years"),
    "check_balance": ("帮我查一下余额", "what's my balance"),
    "ask_mortgage_rate": ("房贷利率多少", "what is the mortgage rate"),
    "search_transactions": (
        "上个月在星巴克花了多少",
        "how much did I spend last month",
    ),
    "transfer_money": ("给张伟转三千", "send 500 to Alice"),
    "report_lost_card": ("我的卡丢了", "I lost my card"),
    "check_card_limit": ("信用卡额度还有多少", "what's my credit limit"),
    "recommend_wealth_product": ("有什么理财产品推荐", "any savings products for me"),
    "faq": ("你们几点营业", "what are your opening hours"),
    "complain": ("你们的服务太差了", "this service is terrible"),
    "request_human": ("转人工", "let me talk to a person"),
    "out_of_scope": ("帮我订机票", "book me a flight"),
    "nlu_fallback": ("那个东西怎么弄", "how do I do the thing"),
}
BOT_REPLY = ("好的，已为您处理。", "Done, here you are.")
WAIT_REPLY = (
    "正在为您转接人工客服，请稍候。",
    "Connecting you to an agent, please wait.",
)
AGENT_REPLY = ("您好，我是客服小王。", "Hello, this is Wang from customer service.")
HAND_BACK = ("客服已离开，智能助手继续为您服务。", "The agent has left; I'm back.")
ACTIONS = {
    "check_balance": "action_check_balance",
    "ask_mortgage_rate": "action_mortgage_rate",
    "search_transactions": "action_search_transactions",
    "transfer_money": "transfer_form",
    "report_lost_card": "action_report_lost_card",
    "check_card_limit": "action_check_card_limit",
    "recommend_wealth_product": "action_recommend_wealth",
    "faq": "utter_faq",
    "out_of_scope": "action_knowledge_fallback",
    "nlu_fallback": "action_knowledge_fallback",
}
# Slow turns: answered from the knowledge base (retrieval, optionally an LLM).
SLOW_INTENTS = frozenset({"faq", "out_of_scope", "nlu_fallback"})


@dataclass(frozen=True)
class Scenario:
    """A kind of conversation: its opening turns, topic and handoff behaviour."""

    name: str
    weight: float
    intents: tuple[str, ...]
    topic: str | None
    handoff_p: float  # chance of a handoff after the first turn
    handoff_reason: str
    distress: bool  # a handoff that empathetic wording can avoid
    emotions: tuple[str, ...] = ("calm", "calm", "calm", "confused")


SCENARIOS = (
    Scenario(
        "balance", 16, ("check_balance",), "balance", 0.08, "repeated_distress", True
    ),
    Scenario(
        "mortgage",
        12,
        ("ask_mortgage_rate", "inform", "inform"),
        "mortgage",
        0.08,
        "repeated_distress",
        True,
    ),
    Scenario(
        "transactions",
        11,
        ("search_transactions", "inform"),
        "transactions",
        0.08,
        "repeated_distress",
        True,
    ),
    Scenario(
        "transfer",
        12,
        ("transfer_money", "inform", "affirm"),
        "transfer",
        0.08,
        "repeated_distress",
        True,
    ),
    Scenario(
        "lost_card",
        7,
        ("report_lost_card", "affirm"),
        "lost_card",
        0.45,
        "high_stakes",
        True,
        ("anxious", "anxious", "calm"),
    ),
    Scenario(
        "card_limit",
        6,
        ("check_card_limit",),
        "card_limit",
        0.08,
        "repeated_distress",
        True,
    ),
    Scenario(
        "wealth",
        6,
        ("recommend_wealth_product", "inform"),
        "wealth",
        0.08,
        "repeated_distress",
        True,
    ),
    Scenario("faq", 12, ("faq", "faq"), None, 0.05, "repeated_distress", True),
    Scenario(
        "complaint",
        6,
        ("complain",),
        "service",
        0.75,
        "angry_complaint",
        True,
        ("angry", "angry", "anxious"),
    ),
    Scenario("human", 5, ("request_human",), "service", 1.0, "request_human", False),
    Scenario(
        "fallback",
        9,
        ("out_of_scope", "nlu_fallback"),
        None,
        0.25,
        "request_human",
        False,
        ("confused", "confused", "calm"),
    ),
    Scenario(
        "risk",
        3,
        ("transfer_money",),
        "transfer",
        1.0,
        "risk_alert",
        False,
        ("anxious", "calm"),
    ),
)
RISK_CATEGORIES = (
    ("scam_direction", "SCAM-SAFE-ACCOUNT", 6),
    ("scam_direction", "SCAM-AUTHORITY-MONEY", 3),
    ("structuring", "AML-STRUCTURING-TEXT", 2),
    ("gambling", "AML-GAMBLING-FUNDS", 2),
    ("money_mule", "AML-MONEY-MULE", 1),
    ("offshore", "AML-OFFSHORE-MOVE", 1),
    ("crypto", "AML-CRYPTO-FUNDS", 1),
)


@dataclass
class _Conversation:
    """What one simulated conversation produced, before it is written."""

    conversation_id: str
    customer_id: str | None
    language: str
    channel: str
    events: list[Any] = field(default_factory=list)
    rows: list[Any] = field(default_factory=list)


def seed_demo(
    count: int,
    directory: Path,
    *,
    seed: int = 7,
    now: datetime | None = None,
    experiments: Mapping[str, ab.Experiment] | None = None,
) -> tuple[str, str]:
    """Create and fill a demo profile DB and tracker store in `directory`.

    Args:
        count: how many conversations to simulate.
        directory: an existing directory without earlier demo databases.
        seed: the random seed (same seed, same data).
        now: the end of the simulated period (default: today 00:00 UTC).
        experiments: the registry to assign from (default: data/experiments.yml).

    Returns:
        The profile DB URL and the tracker store URL.

    Raises:
        FileExistsError: a demo database is already in `directory`.
    """
    profile_path, tracker_path = directory / PROFILE_DB, directory / TRACKER_DB
    for path in (profile_path, tracker_path):
        if path.exists():
            raise FileExistsError(f"{path} exists: use a fresh --demo-dir")
    from scripts.seed_profiles import migrate  # Alembic: only when seeding

    profile_url, tracker_url = f"sqlite:///{profile_path}", f"sqlite:///{tracker_path}"
    migrate(profile_url)
    registry = ab.registry() if experiments is None else experiments
    anchor = now or datetime.now(timezone.utc).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rng = random.Random(seed)
    customers = _customers(rng, max(12, count // 4), anchor)
    conversations = [_simulate(rng, customers, registry, anchor) for _ in range(count)]
    engine = make_engine(profile_url)
    try:
        with session_scope(engine) as s:
            s.add_all(customers)
            s.flush()
            for conv in conversations:
                s.add_all(conv.rows)
    finally:
        engine.dispose()
    asyncio.run(_save_trackers(tracker_url, conversations))
    return profile_url, tracker_url


def _customers(rng: random.Random, size: int, anchor: datetime) -> list[m.Customer]:
    return [
        m.Customer(
            id=f"D{i:04d}",
            name_zh=f"演示客户{i}",
            name_en=f"Demo customer {i}",
            preferred_language="zh" if rng.random() < 0.65 else "en",
            risk_level=rng.randint(1, 5),
            tier=rng.choice(("standard", "standard", "gold", "private")),
            created_at=anchor - timedelta(days=400),
        )
        for i in range(1, size + 1)
    ]


def _simulate(
    rng: random.Random,
    customers: list[m.Customer],
    registry: Mapping[str, ab.Experiment],
    anchor: datetime,
) -> _Conversation:
    """One conversation: its tracker events and its profile rows."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        ConversationPaused,
        ConversationResumed,
        SessionStarted,
        SlotSet,
        UserUttered,
    )

    customer = rng.choice(customers) if rng.random() < 0.75 else None
    language = (
        str(customer.preferred_language)
        if customer is not None
        else ("zh" if rng.random() < 0.6 else "en")
    )
    lang = 0 if language == "zh" else 1
    channel = "socketio" if rng.random() < 0.55 else "rest"
    conv = _Conversation(
        f"demo-{rng.getrandbits(48):012x}",
        str(customer.id) if customer is not None else None,
        language,
        channel,
    )
    variants = {
        name: ab.assign(spec, conv.customer_id, conv.conversation_id)
        for name, spec in registry.items()
    }
    scenario = rng.choices(SCENARIOS, weights=[s.weight for s in SCENARIOS])[0]
    clock = (anchor - timedelta(seconds=rng.uniform(0, DAYS * 86400))).timestamp()
    started = clock
    ev = conv.events

    def at(ts: float) -> datetime:
        return datetime.fromtimestamp(ts, timezone.utc)

    for name, variant in variants.items():
        conv.rows.append(
            m.ExperimentAssignment(
                experiment=name,
                variant=variant,
                customer_id=conv.customer_id,
                conversation_id=conv.conversation_id,
                assigned_at=at(clock),
            )
        )
    ev += [
        ActionExecuted("action_session_start", timestamp=clock),
        SessionStarted(timestamp=clock),
        ActionExecuted("action_listen", timestamp=clock),
    ]

    def user(intent: str, ts: float) -> None:
        ev.append(
            UserUttered(
                TEXTS[intent][lang],
                {"name": intent, "confidence": round(rng.uniform(0.7, 0.99), 3)},
                [],
                timestamp=ts,
                input_channel=channel,
            )
        )

    def bot_turn(intent: str, emotion: str) -> None:
        nonlocal clock
        clock += rng.uniform(4, 40)
        user(intent, clock)
        if not any(isinstance(e, SlotSet) for e in ev):
            ev.append(SlotSet("language", language, timestamp=clock))
        slow = intent in SLOW_INTENTS
        latency = rng.lognormvariate(-0.1 if slow else -1.75, 0.45 if slow else 0.5)
        ev.append(
            ActionExecuted(
                ACTIONS.get(intent, f"utter_{intent}"), timestamp=clock + latency * 0.9
            )
        )
        ev.append(BotUttered(BOT_REPLY[lang], timestamp=clock + latency))
        ev.append(ActionExecuted("action_listen", timestamp=clock + latency))
        conv.rows.append(
            m.EmotionRecord(
                conversation_id=conv.conversation_id,
                customer_id=conv.customer_id,
                emotion=emotion,
                score={"calm": 0.2, "confused": -0.1}.get(emotion, -0.6),
                urgent=emotion == "anxious" and rng.random() < 0.3,
                intent=intent,
                topic=scenario.topic,
                created_at=at(clock),
            )
        )
        clock += latency

    if rng.random() < 0.45:
        bot_turn("greet", "calm")
    empathetic = variants.get("reply_tone") == "empathetic"
    p_handoff = scenario.handoff_p * (
        EMPATHY_HANDOFF_FACTOR if empathetic and scenario.distress else 1.0
    )
    handed_off = rng.random() < p_handoff
    outcome = "in_progress"
    ticket: m.HandoffTicket | None = None
    for i, intent in enumerate(scenario.intents):
        bot_turn(intent, rng.choice(scenario.emotions))
        if scenario.name == "risk" and i == 0:
            _risk_alerts(rng, conv, at(clock), anchor)
            outcome = "refused"
        if handed_off and i == 0:
            ticket = _hand_over(rng, conv, scenario, at, clock)
            ev[-3:] = [
                ActionExecuted("action_handoff", timestamp=clock - 0.05),
                BotUttered(WAIT_REPLY[lang], timestamp=clock),
                ConversationPaused(timestamp=clock),
            ]
            break
        if scenario.name == "transfer" and i == len(scenario.intents) - 1:
            outcome = "completed" if rng.random() < 0.85 else "cancelled"
    if ticket is not None:
        outcome = "handoff"
        if ticket.accepted_at is not None:
            clock = ticket.accepted_at.timestamp()
            for _ in range(rng.randint(1, 3)):
                clock += rng.uniform(10, 60)
                user(rng.choice(("inform", "affirm", "thank")), clock)
                clock += rng.uniform(15, 90)
                ev.append(
                    BotUttered(
                        AGENT_REPLY[lang], metadata={"agent": "wang"}, timestamp=clock
                    )
                )
        if ticket.status == "released":
            clock += rng.uniform(5, 60)
            ticket.released_at = at(clock)
            ev += [
                BotUttered(
                    HAND_BACK[lang], metadata={"agent": "system"}, timestamp=clock
                ),
                ConversationResumed(timestamp=clock),
                ActionExecuted("action_listen", timestamp=clock),
            ]
            if rng.random() < 0.5:
                bot_turn("goodbye", "calm")
                outcome = "ended"  # record_turn overwrites; the ticket still counts
    elif outcome != "refused":
        if rng.random() < 0.3:
            bot_turn("thank", "calm")
        if rng.random() < 0.6:
            bot_turn("goodbye", "calm")
            outcome = "ended"
    if conv.customer_id is not None:
        conv.rows.append(
            m.Interaction(
                customer_id=conv.customer_id,
                conversation_id=conv.conversation_id,
                channel=channel,
                topic=scenario.topic,
                outcome=outcome,
                language=language,
                started_at=at(started),
                updated_at=at(clock),
            )
        )
    if rng.random() < 0.5:
        resolved = ticket is None and outcome in ("ended", "completed")
        mean = 4.25 if resolved else (3.0 if ticket is not None else 3.6)
        mean += EMPATHY_RATING_LIFT if empathetic else 0.0
        conv.rows.append(
            m.SatisfactionRating(
                conversation_id=conv.conversation_id,
                customer_id=conv.customer_id,
                channel=channel,
                score=min(5, max(1, round(rng.gauss(mean, 0.85)))),
                created_at=at(clock + 5),
            )
        )
    return conv


def _hand_over(
    rng: random.Random,
    conv: _Conversation,
    scenario: Scenario,
    at: Callable[[float], datetime],
    clock: float,
) -> m.HandoffTicket:
    accepted = rng.random() < 0.92
    wait = rng.lognormvariate(4.2, 0.8)  # seconds; median about a minute
    status = rng.choices(("released", "active", "waiting"), (0.85, 0.1, 0.05))[0]
    if not accepted:
        status = "waiting"
    ticket = m.HandoffTicket(
        conversation_id=conv.conversation_id,
        customer_id=conv.customer_id,
        channel=conv.channel,
        language=conv.language,
        reason=scenario.handoff_reason,
        topic=scenario.topic,
        emotion=rng.choice(scenario.emotions),
        urgent=False,
        base_priority={"risk_alert": 90, "high_stakes": 70}.get(
            scenario.handoff_reason, 50
        ),
        summary="{}",
        status=status,
        agent="wang" if accepted else None,
        created_at=at(clock),
        accepted_at=at(clock + wait) if accepted else None,
    )
    conv.rows.append(ticket)
    return ticket


def _risk_alerts(
    rng: random.Random, conv: _Conversation, when: datetime, anchor: datetime
) -> None:
    for _ in range(1 if rng.random() < 0.7 else 2):
        category, rule_id, _weight = rng.choices(
            RISK_CATEGORIES, weights=[w for *_, w in RISK_CATEGORIES]
        )[0]
        # Compliance has reviewed most alerts older than a few days.
        reviewed = (anchor - when).days > 3 and rng.random() < 0.8
        status = (
            rng.choices(("cleared", "confirmed", "released"), (0.35, 0.5, 0.15))[0]
            if reviewed
            else "open"
        )
        conv.rows.append(
            m.RiskAlert(
                conversation_id=conv.conversation_id,
                customer_id=conv.customer_id,
                channel=conv.channel,
                language=conv.language,
                source="message",
                rule_id=rule_id,
                rule_version=1,
                ruleset="demo",
                category=category,
                score=round(rng.uniform(0.6, 0.99), 2),
                excerpt="",
                action_taken="handoff",
                status=status,
                reviewer="compliance" if reviewed else None,
                created_at=when,
                reviewed_at=when + timedelta(days=1) if reviewed else None,
            )
        )


async def _save_trackers(url: str, conversations: list[_Conversation]) -> None:
    """Write the events through the project's tracker store (Rasa's own schema)."""
    from rasa.shared.core.slots import TextSlot
    from rasa.shared.core.trackers import DialogueStateTracker

    logging.getLogger("rasa").setLevel(logging.WARNING)
    from addons.tracker_store import MaskingSQLTrackerStore

    with warnings.catch_warnings():  # Rasa 3.6 calls SQLAlchemy's deprecated URL()
        warnings.simplefilter("ignore")
        store = MaskingSQLTrackerStore(host=url)
    try:
        for conv in conversations:
            tracker = DialogueStateTracker.from_events(
                conv.conversation_id,
                conv.events,
                slots=[TextSlot("language", mappings=[])],
            )
            await store.save(tracker)
    finally:
        store.engine.dispose()
