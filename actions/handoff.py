"""Human handoff decisions: ticket priority, the customer's expected wait, the summary.

Pure functions, table-tested. Priority orders the agent queue: the reason and emotion
say how much the customer suffers, urgency and a risk alert how much money is at stake,
the tier what the bank owes the customer, and waiting time makes sure nobody starves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from actions.pii import mask_pii

REASON_WEIGHT = {
    "risk_alert": 50,  # a risk rule stopped money moving (plus RISK_WEIGHT)
    "high_stakes": 40,  # anxious about a lost card, missing money, fraud
    "angry_complaint": 35,
    "repeated_distress": 30,
    "complaint": 20,
    "request_human": 10,
}
EMOTION_WEIGHT = {"anxious": 25, "angry": 20, "confused": 10, "calm": 0}
TIER_WEIGHT = {"private": 20, "gold": 10, "standard": 0}
URGENT_WEIGHT = 15
RISK_WEIGHT = 100  # an open risk alert goes to the top of the queue
AGING_POINTS_PER_MINUTE = 1
AGING_CAP = 60  # after an hour, waiting time no longer outranks everything else
MINUTES_PER_CUSTOMER = 4  # average handling time of one handoff (demo figure)
FACT_SLOTS = (
    "topic",
    "amount",
    "recipient",
    "source_account",
    "account_type",
    "card_type",
    "home_status",
    "loan_term",
    "period",
    "merchant",
    "category",
)
REASON_TEXT = {
    "risk_alert": ("风控拦截，需核实", "stopped by risk control, needs verification"),
    "high_stakes": ("资金风险场景下情绪焦虑", "anxious about money at risk"),
    "angry_complaint": ("愤怒投诉", "angry complaint"),
    "repeated_distress": ("连续多轮焦虑或愤怒", "repeatedly anxious or angry"),
    "complaint": ("投诉", "complaint"),
    "request_human": ("主动要求人工", "asked for a person"),
}


def base_priority(
    reason: str,
    emotion: str | None,
    urgent: bool = False,
    tier: str | None = None,
    has_risk_alert: bool = False,
) -> int:
    """The priority of a new ticket before any waiting time.

    Args:
        reason: why the conversation goes to a person (a key of REASON_WEIGHT).
        emotion: the customer's emotion at handoff.
        urgent: the urgency flag of the last message.
        tier: the customer's tier (None for a customer who is not logged in).
        has_risk_alert: a risk alert is open for this conversation.

    Returns:
        Points; higher is served first.
    """
    return (
        REASON_WEIGHT.get(reason, 0)
        + EMOTION_WEIGHT.get(emotion or "calm", 0)
        + (URGENT_WEIGHT if urgent else 0)
        + TIER_WEIGHT.get(tier or "standard", 0)
        + (RISK_WEIGHT if has_risk_alert else 0)
    )


def effective_priority(base: int, waited_seconds: float) -> int:
    """Base priority plus one point per minute waited, up to AGING_CAP."""
    minutes = max(0, int(waited_seconds // 60))
    return base + min(AGING_CAP, minutes * AGING_POINTS_PER_MINUTE)


def expected_wait_minutes(position: int, agents_online: int) -> int:
    """Rough wait for the customer at `position` (1 = next) in the queue."""
    agents = max(1, agents_online)
    return max(1, math.ceil(position / agents) * MINUTES_PER_CUSTOMER)


def summarize(
    events: Sequence[Mapping[str, Any]],
    slots: Mapping[str, Any],
    reason: str,
    last_turns: int = 6,
) -> dict[str, Any]:
    """What the agent needs to know without asking the customer again.

    Args:
        events: the tracker's events (dicts).
        slots: the tracker's slot values.
        reason: why the conversation is handed over.
        last_turns: how many recent customer messages to quote.

    Returns:
        ``text`` (one bilingual line), ``intents`` and ``emotions`` of the recent turns,
        ``facts`` (task slots that are set) and ``last_messages`` (masked).
    """
    users = [e for e in events if e.get("event") == "user" and e.get("text")]
    recent = users[-last_turns:]
    intents = [
        ((e.get("parse_data") or {}).get("intent") or {}).get("name") for e in recent
    ]
    messages = [mask_pii(str(e.get("text"))) for e in recent]
    facts = {k: str(slots[k]) for k in FACT_SLOTS if slots.get(k) not in (None, "", [])}
    emotions = list(slots.get("emotion_history") or [])[-last_turns:]
    zh, en = REASON_TEXT.get(reason, (reason, reason))
    topic = facts.get("topic", "-")
    last = messages[-1] if messages else ""
    text = (
        f"{zh} / {en}; topic {topic}; emotion {slots.get('emotion') or '-'}; "
        f"last message: “{last}”"
    )
    return {
        "text": text,
        "intents": [i for i in intents if i],
        "emotions": emotions,
        "facts": facts,
        "last_messages": messages,
    }
