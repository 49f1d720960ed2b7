"""Session start and greeting: who is logged in, and what carries over."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.continuity import channel_name, topic_name
from actions.dialogue.common import (
    EventList,
    blocking,
    channel_of,
    customer_of,
    language_of,
)
from actions.dialogue.continuity import offer_for, resume_offer
from actions.errors import BotError

logger = logging.getLogger(__name__)
# Task state belongs to one session; facts about the customer (home status, language)
# carry over so that a returning customer is not asked again.
NOT_CARRIED_OVER = frozenset(
    {
        "requested_slot",
        "transfer_ref",
        "transfer_confirmed",
        "amount",
        "recipient",
        "payee_id",
        "topic",
        "source_account",
        # A new session starts with a fresh emotional state and no pending handoff.
        "emotion",
        "emotion_history",
        "tone",
        "escalation",
        "needs_human",
        "handoff_ticket",
        # An offer to continue is made afresh for each new session.
        "resume_offer",
        "continuity_pending",
    }
)


class ActionSessionStart(Action):
    """Runs when a conversation or a new session (after expiry) starts."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        events: EventList = [SessionStarted()]
        events += [
            SlotSet(k, v)
            for k, v in tracker.slots.items()
            if v is not None and k not in NOT_CARRIED_OVER
        ]
        customer_id = customer_of(tracker, at_session_start=True)
        events.append(SlotSet("customer_id", customer_id))
        if customer_id:
            repo = services.profile_repository()
            try:
                profile = await blocking(repo.get_customer, customer_id)
                await blocking(
                    repo.record_channel_identity,
                    customer_id,
                    channel_of(tracker),
                    tracker.sender_id,
                )
            except BotError:
                logger.warning("profile unavailable at session start")
                profile = None
            if profile and tracker.get_slot("language") is None:
                events.append(SlotSet("language", profile.preferred_language))
            offer = await resume_offer(repo, customer_id, tracker.sender_id)
            if offer:
                events.append(SlotSet("resume_offer", offer))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionGreet(Action):
    """Answers `greet`: by name for a logged-in customer."""

    def name(self) -> str:
        return "action_greet"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        customer_id = customer_of(tracker)
        profile = None
        if customer_id:
            try:
                profile = await blocking(
                    services.profile_repository().get_customer, customer_id
                )
            except BotError:
                profile = None
        offer = offer_for(tracker)
        if profile and offer:
            language = language_of(tracker)
            dispatcher.utter_message(
                response="utter_resume_offer",
                name=profile.name(language),
                channel=channel_name(str(offer.get("channel")), language),
                topic=topic_name(
                    str(offer["topic"]), offer.get("context") or {}, language
                ),
            )
            return [SlotSet("continuity_pending", True)]
        if profile:
            dispatcher.utter_message(
                response="utter_greet_customer", name=profile.name(language_of(tracker))
            )
        else:
            dispatcher.utter_message(response="utter_greet")
        return []
