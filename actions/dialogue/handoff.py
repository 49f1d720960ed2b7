"""Handing a conversation to a human agent: ticket, expected wait, pause."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.dialogue.common import (
    EventList,
    blocking,
    channel_of,
    customer_of,
    language_of,
)
from actions.errors import BotError
from actions.handoff import (
    base_priority,
    effective_priority,
    expected_wait_minutes,
    summarize,
)
from actions.risk.alerts import RISK_ESCALATION, warning_response
from actions.settings import get_settings

logger = logging.getLogger(__name__)
REASON_BY_INTENT = {"request_human": "request_human", "complain": "complaint"}


def handoff_reason(tracker: Tracker) -> str:
    """Why this conversation goes to a person: the escalation rule, else the intent."""
    escalation = tracker.get_slot("escalation")
    if escalation:
        return str(escalation)
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return REASON_BY_INTENT.get(intent or "", "request_human")


async def hand_over(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    reason: str,
    *,
    has_risk_alert: bool = False,
) -> EventList:
    """Queue the conversation for an agent, tell the customer the wait, pause the bot.

    Opens (or reuses) a ticket whose priority comes from the reason, emotion, urgency,
    tier and any risk alert. Used by `action_handoff` and by actions that stop an
    operation (a transfer held by the risk rules).

    Returns:
        The events to apply: ticket slot, cleared escalation, ConversationPaused.
    """
    repo = services.profile_repository()
    customer_id = customer_of(tracker)
    emotion = tracker.get_slot("emotion")
    urgent = bool((tracker.latest_message.get("emotion") or {}).get("urgent"))
    try:
        profile = (
            await blocking(repo.get_customer, customer_id) if customer_id else None
        )
        summary = summarize(tracker.events, tracker.slots, reason)
        ticket, _ = await blocking(
            repo.open_handoff,
            conversation_id=tracker.sender_id,
            customer_id=customer_id,
            channel=channel_of(tracker),
            language=language_of(tracker),
            reason=reason,
            topic=tracker.get_slot("topic"),
            emotion=emotion,
            urgent=urgent,
            base_priority=base_priority(
                reason,
                emotion,
                urgent,
                profile.tier if profile else None,
                has_risk_alert=has_risk_alert,
            ),
            summary=json.dumps(summary, ensure_ascii=False),
        )
        queue = await blocking(repo.open_tickets)
    except BotError:
        logger.warning("handoff ticket could not be opened")
        dispatcher.utter_message(response="utter_service_unavailable")
        return []
    now = datetime.now(timezone.utc)
    ranked = sorted(
        queue,
        key=lambda t: effective_priority(
            t.base_priority, (now - t.created_at).total_seconds()
        ),
        reverse=True,
    )
    position = next(
        (i for i, t in enumerate(ranked, 1) if t.id == ticket.id), len(ranked) + 1
    )
    minutes = expected_wait_minutes(position, get_settings().agents_online)
    dispatcher.utter_message(response="utter_handoff_waiting", minutes=minutes)
    try:
        if customer_id:
            await blocking(
                repo.record_interaction,
                customer_id=customer_id,
                conversation_id=tracker.sender_id,
                channel=channel_of(tracker),
                topic=tracker.get_slot("topic"),
                outcome="handoff",
            )
    except BotError:
        logger.warning("interaction could not be recorded")
    return [
        SlotSet("needs_human", False),
        SlotSet("escalation", None),
        SlotSet("handoff_ticket", str(ticket.id)),
        ConversationPaused(),
    ]


async def raise_risk_alerts(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    source: str,
    ruleset: str,
    hits: list[dict[str, Any]],
    action_taken: str,
    amount: Decimal | None = None,
) -> bool:
    """Record the alerts and give the customer the warning for their category.

    Returns:
        Whether the alerts were stored (the warning is given either way).
    """
    dispatcher.utter_message(
        response=warning_response(str(h.get("category")) for h in hits)
    )
    try:
        alerts = await blocking(
            services.profile_repository().record_risk_alerts,
            conversation_id=tracker.sender_id,
            customer_id=customer_of(tracker),
            channel=channel_of(tracker),
            language=language_of(tracker),
            source=source,
            ruleset=ruleset,
            hits=hits,
            action_taken=action_taken,
            amount=amount,
        )
    except BotError:
        logger.error("risk alert could not be stored; the operation stays stopped")
        return False
    logger.warning(
        "risk alert(s) %s: %s",
        ",".join(str(a.id) for a in alerts),
        ",".join(f"{h['rule_id']}@{h['rule_version']}" for h in hits),
    )
    return True


class ActionHandoff(Action):
    """Runs on `request_human`, `complain`, emotional escalation and risk hits.

    A risk hit on the message (addons.risk) is first recorded as an alert and answered
    with a warning; its ticket goes to the top of the agent queue.
    """

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        reason = handoff_reason(tracker)
        risk = tracker.latest_message.get("risk") or {}
        flagged = reason == RISK_ESCALATION and bool(risk.get("hits"))
        if flagged:
            await raise_risk_alerts(
                dispatcher,
                tracker,
                source="message",
                ruleset=str(risk.get("ruleset") or ""),
                hits=list(risk["hits"]),
                action_taken="handoff",
            )
        return await hand_over(dispatcher, tracker, reason, has_risk_alert=flagged)
