"""Slots filled on every turn, whatever the intent (Rasa's global custom mappings).

The customer's language and emotion, and the tone the replies take.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict
from sqlalchemy.exc import SQLAlchemyError

from actions import services
from actions.dialogue.ab import variant_of
from actions.dialogue.common import blocking, customer_of
from actions.dialogue.continuity import record_turn
from actions.errors import BotError
from actions.language import SUPPORTED, written_language
from actions.risk.alerts import RISK_ESCALATION
from actions.sentiment import DISTRESSED, EMOTIONS, decide_escalation, roll

logger = logging.getLogger(__name__)
GLOBAL_SLOTS = [
    "language",
    "emotion",
    "emotion_history",
    "tone",
    "escalation",
    "needs_human",
    "resume_offer",  # before continuity_pending: both read the offer's state
    "continuity_pending",
]


class ValidateSlotMappings(ValidationAction):
    """Runs after every user message, inside Rasa's `action_extract_slots`."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Rasa's validation, returning only the slots whose value changes.

        Re-setting an unchanged language, emotion or tone on every turn would add
        five events per turn to every tracker: stored, streamed, replayed and sent to
        this server on each later call, for nothing (`make bench`).
        """
        before = {name: tracker.get_slot(name) for name in GLOBAL_SLOTS}
        events = await super().run(dispatcher, tracker, domain)
        return [
            event
            for event in events
            if not (
                event.get("event") == "slot"
                and event.get("name") in before
                and event.get("value") == before[event["name"]]
            )
        ]

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Only the slots this action fills; the others use Rasa's own mappings."""
        return GLOBAL_SLOTS

    async def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The language of this message, so the reply comes in the customer's language.

        The NLU pipeline's LanguageDetector puts it into the parse result. A message
        without letters ("$300") or one that bypassed NLU (``/affirm``) keeps the
        language the conversation had.
        """
        language = tracker.latest_message.get("language")
        if language not in SUPPORTED:
            text = tracker.latest_message.get("text") or ""
            language = None if text.startswith("/") else written_language(text)
        return {"language": language} if language else {}

    async def get_validation_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """The extracted values are already valid: keep them (no per-slot warnings).

        Also records this turn in the customer's interaction history (topic, pending
        task, facts), which is what another channel offers to continue.
        """
        changed = tracker.slots_to_validate()
        await record_turn(tracker, {**tracker.current_slot_values(), **changed})
        acknowledgement = await self._acknowledgement(tracker)
        if acknowledgement:
            dispatcher.utter_message(response=acknowledgement)
        return [
            SlotSet(name, value)
            for name, value in changed.items()
            if name in GLOBAL_SLOTS
        ]

    async def extract_continuity_pending(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An offer to continue stands for one answer: yes or no, else it lapses.

        Unset rather than False: a featurized False would stay in every later dialogue
        state, which no story or rule contains.
        """
        if self._offer_lapses(tracker):
            return {"continuity_pending": None}
        return {}

    async def extract_resume_offer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A lapsed offer is forgotten, so a later "你好" does not make it again."""
        return {"resume_offer": None} if self._offer_lapses(tracker) else {}

    @staticmethod
    async def _acknowledgement(tracker: Tracker) -> str | None:
        """`reply_tone` experiment: the empathetic arm first names the feeling.

        Once, when the customer turns anxious or angry (not on every distressed turn);
        the answer that follows is the same in both arms (gentle wording).
        """
        history = tracker.get_slot("emotion_history") or []
        if not history or history[-1] not in DISTRESSED:
            return None
        if len(history) > 1 and history[-2] in DISTRESSED:
            return None
        if await variant_of(tracker, "reply_tone") != "empathetic":
            return None
        return f"utter_empathy_{history[-1]}"

    @staticmethod
    def _offer_lapses(tracker: Tracker) -> bool:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        return bool(tracker.get_slot("continuity_pending")) and intent not in (
            "affirm",
            "deny",
        )

    async def extract_emotion(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """This message's emotion (from addons.emotion), recorded in the profile DB."""
        scored = tracker.latest_message.get("emotion") or {}
        emotion = scored.get("label")
        if emotion not in EMOTIONS:
            return {}
        try:
            await blocking(
                services.profile_repository().record_emotion,
                conversation_id=tracker.sender_id,
                customer_id=customer_of(tracker),
                emotion=emotion,
                score=float(scored.get("score", 0.0)),
                urgent=bool(scored.get("urgent")),
                intent=(tracker.latest_message.get("intent") or {}).get("name"),
                topic=tracker.get_slot("topic"),
            )
        except (BotError, SQLAlchemyError):  # a record must never cost the turn
            logger.warning("emotion of a message could not be recorded")
        return {"emotion": emotion}

    async def extract_emotion_history(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The emotions of the last turns, oldest first (the rolling state)."""
        scored = tracker.latest_message.get("emotion") or {}
        if scored.get("label") not in EMOTIONS:
            return {}
        history = tracker.get_slot("emotion_history") or []
        return {"emotion_history": roll(history, scored["label"])}

    async def extract_tone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Gentle replies while the customer is anxious or angry, else plain ones."""
        emotion = tracker.get_slot("emotion")
        return {"tone": "gentle" if emotion in DISTRESSED else "plain"}

    async def extract_escalation(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Why this turn goes to a person, if it does.

        A risk rule that fired on the message (addons.risk) comes first: the operation
        is stopped and compliance sees the alert. Otherwise the emotional escalation
        rules (actions.sentiment) decide.
        """
        if (tracker.latest_message.get("risk") or {}).get("hits"):
            return {"escalation": RISK_ESCALATION}
        scored = tracker.latest_message.get("emotion") or {}
        if scored.get("label") not in EMOTIONS:
            return {}
        decision = decide_escalation(
            tracker.get_slot("emotion_history") or [],
            (tracker.latest_message.get("intent") or {}).get("name"),
            tracker.get_slot("topic"),
            bool(scored.get("urgent")),
        )
        return {"escalation": decision.reason}

    async def extract_needs_human(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Featurized flag the dialogue rules act on: hand over to a person now."""
        return {"needs_human": bool(tracker.get_slot("escalation"))}
