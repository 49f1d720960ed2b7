"""Human-request placeholder (the real handoff arrives with the handoff issue)."""

from __future__ import annotations

import logging

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.dialogue.common import EventList, blocking, channel_of, customer_of
from actions.errors import BotError

logger = logging.getLogger(__name__)


class ActionRequestHuman(Action):
    """Answers `request_human`: records the request and tells the customer the way."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        customer_id = customer_of(tracker)
        if customer_id:
            try:
                await blocking(
                    services.profile_repository().record_interaction,
                    customer_id=customer_id,
                    conversation_id=tracker.sender_id,
                    channel=channel_of(tracker),
                    topic=tracker.get_slot("topic"),
                    outcome="human_requested",
                )
            except BotError:
                logger.warning("could not record the human request")
        dispatcher.utter_message(response="utter_human_placeholder")
        return []
