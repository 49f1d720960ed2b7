"""Slots filled on every turn, whatever the intent (Rasa's global custom mappings)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.language import SUPPORTED, written_language


class ValidateSlotMappings(ValidationAction):
    """Runs after every user message, inside Rasa's `action_extract_slots`."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Only the slots this action fills; the others use Rasa's own mappings."""
        return ["language"]

    async def validate_language(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """Only the supported languages."""
        return {"language": value if value in SUPPORTED else None}

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
