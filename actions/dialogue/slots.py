"""Slots filled on every turn, whatever the intent (Rasa's global custom mappings)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from actions.language import SUPPORTED, detect_language


class ValidateSlotMappings(ValidationAction):
    """Runs after every user message, inside Rasa's `action_extract_slots`."""

    def name(self) -> str:
        return "action_validate_slot_mappings"

    async def extract_language(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                               domain: DomainDict) -> dict[str, Any]:
        """The language of this message, so the reply comes in the customer's language.

        The NLU pipeline's LanguageDetector puts it into the parse result; a message that
        bypassed NLU (a button payload such as ``/affirm``) keeps the previous language.
        """
        language = tracker.latest_message.get("language")
        if language not in SUPPORTED:
            text = tracker.latest_message.get("text") or ""
            if not text or text.startswith("/"):
                return {}
            language = detect_language(text)
        return {"language": language}
