"""Continuity across channels: record each turn, offer to continue, carry facts over."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import services
from actions.continuity import (
    CONTEXT_SLOTS,
    RESUME_WINDOW,
    carried_context,
    pending_task,
    topic_name,
    worth_offering,
)
from actions.dialogue.common import (
    EventList,
    blocking,
    channel_of,
    customer_of,
    language_of,
)
from actions.errors import BotError
from actions.profile_db.repository import ProfileRepository

logger = logging.getLogger(__name__)
ENDING_INTENTS = {"goodbye": "ended"}


async def resume_offer(
    repo: ProfileRepository, customer_id: str, conversation_id: str
) -> dict[str, Any] | None:
    """The customer's recent unfinished topic from another conversation, if any."""
    now = datetime.now(timezone.utc)
    try:
        last = await blocking(
            repo.last_interaction_elsewhere,
            customer_id,
            conversation_id,
            now - RESUME_WINDOW,
        )
    except (BotError, SQLAlchemyError):  # history is a courtesy: never fail a turn
        logger.warning("interaction history unavailable at session start")
        return None
    if last is None or not worth_offering(
        last.topic, last.outcome, last.pending_task, last.updated_at, now
    ):
        return None
    return {
        "customer_id": customer_id,  # only this customer may be offered it
        "interaction_id": last.id,
        "channel": last.channel,
        "topic": last.topic,
        "context": last.context,
        "pending_task": last.pending_task,
    }


async def record_turn(tracker: Tracker, slots: dict[str, Any]) -> None:
    """Update the logged-in customer's interaction history with this turn.

    Args:
        tracker: the conversation.
        slots: the slot values after this turn's extraction.
    """
    customer_id = customer_of(tracker)
    if not customer_id:
        return
    intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
    topic = slots.get("topic")
    active_loop = (tracker.active_loop or {}).get("name")
    try:
        await blocking(
            services.profile_repository().record_interaction,
            customer_id=customer_id,
            conversation_id=tracker.sender_id,
            channel=channel_of(tracker),
            topic=topic,
            outcome=ENDING_INTENTS.get(intent, "in_progress"),
            pending_task=pending_task(active_loop),
            context=carried_context(topic, slots),
            language=slots.get("language"),
        )
    except (BotError, SQLAlchemyError):  # never fail a turn over the history
        logger.warning("interaction history could not be updated")


def offer_for(tracker: Tracker) -> dict[str, Any] | None:
    """The pending offer, if it was made to the customer of this very message."""
    offer = tracker.get_slot("resume_offer")
    if not isinstance(offer, dict) or not offer.get("topic"):
        return None
    customer_id = customer_of(tracker)
    return offer if customer_id and offer.get("customer_id") == customer_id else None


async def close_interaction(
    tracker: Tracker, customer_id: str, topic: str | None, outcome: str
) -> None:
    """Mark this conversation's task finished: it is never offered again elsewhere.

    Args:
        tracker: the conversation.
        customer_id: the verified customer.
        topic: the topic that finished.
        outcome: ``completed``, ``cancelled`` or ``refused``.
    """
    try:
        await blocking(
            services.profile_repository().record_interaction,
            customer_id=customer_id,
            conversation_id=tracker.sender_id,
            channel=channel_of(tracker),
            topic=topic,
            outcome=outcome,
            pending_task=None,
            context={},
        )
    except (BotError, SQLAlchemyError):
        logger.warning("interaction history could not be updated")


class ActionResumePrevious(Action):
    """The customer said yes to continuing: carry the facts over.

    The rules in data/rules/continuity.yml then run the topic's own action (mortgage
    rates, balance, ...) or the transfer form, as if the customer had just asked.
    """

    def name(self) -> str:
        return "action_resume_previous"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        offer = offer_for(tracker) or {}
        topic = offer.get("topic")
        events: EventList = [
            SlotSet("continuity_pending", None),
            SlotSet("resume_offer", None),
        ]
        if not topic:
            dispatcher.utter_message(response="utter_resume_declined")
            return events
        context = offer.get("context") or {}
        allowed = CONTEXT_SLOTS.get(topic, ())
        events.append(SlotSet("topic", topic))
        events += [SlotSet(k, v) for k, v in context.items() if k in allowed]
        dispatcher.utter_message(
            response="utter_resume_ok",
            topic=topic_name(topic, context, language_of(tracker)),
        )
        return events


class ActionDeclineResume(Action):
    """The customer does not want to continue: forget the offer, ask how to help."""

    def name(self) -> str:
        return "action_decline_resume"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        dispatcher.utter_message(response="utter_resume_declined")
        return [SlotSet("continuity_pending", None), SlotSet("resume_offer", None)]
