"""FinAssist's custom NLU components: language detection and rule-based bank entities.

Both are non-trainable: the model stores only their class path and config, so a change
to this code or to `addons/lexicon.yml` takes effect on restart, without retraining.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.entities import DEFAULT_LEXICON, EntityLexicon, find_recipients
from actions.language import written_language

LANGUAGE_KEY = "language"
RECIPIENT_INTENTS = frozenset({"transfer_money", "inform"})


def _replace_entities(
    message: Message, names: set[str], new: list[dict[str, Any]]
) -> None:
    kept = [e for e in message.get(ENTITIES) or [] if e.get("entity") not in names]
    message.set(ENTITIES, kept + new, add_to_output=True)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class LanguageDetector(GraphComponent):
    """Adds a ``language`` key (zh/en) to every parse result, from the dominant script.

    A key rather than an entity: ``action_validate_slot_mappings`` fills the slot,
    and end-to-end test stories keep comparing only the entities a customer typed.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options."""
        return {}

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """Build the component from its config."""
        return cls(config)

    def process(self, messages: list[Message]) -> list[Message]:
        """Tag each message with its language."""
        for message in messages:
            # None for "$300" or "2w": the conversation keeps its language.
            lang = written_language(message.get(TEXT) or "")
            # add_to_output=True: without it Rasa drops the key from the parse result.
            message.set(LANGUAGE_KEY, lang, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left alone: the language is not learned."""
        return training_data


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class BankEntityExtractor(GraphComponent):
    """Finds amounts, loan terms, periods, merchants, categories, account/card types."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Default configuration: None means the lexicon in ``addons/lexicon.yml``."""
        return {"lexicon": None}

    def __init__(self, lexicon: EntityLexicon) -> None:
        self._lexicon = lexicon

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> BankEntityExtractor:
        """Load the lexicon named in the config (relative paths: project folder)."""
        path = config.get("lexicon")
        return cls(EntityLexicon.from_file(Path(path) if path else DEFAULT_LEXICON))

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the rule-based entities, replacing any earlier ones of the same names.

        Payee names are looked for only in transfer requests and slot answers (the
        intent comes from DIET, which runs before this component).
        """
        for message in messages:
            text = message.get(TEXT) or ""
            found = self._lexicon.extract(text)
            intent = (message.get(INTENT) or {}).get("name")
            if intent in RECIPIENT_INTENTS:
                taken = [(e.start, e.end) for e in found]
                found += [
                    r
                    for r in find_recipients(text)
                    if all(r.end <= s or e <= r.start for s, e in taken)
                ]
                found.sort(key=lambda e: e.start)
            names = {e.entity for e in found}
            _replace_entities(
                message, names, [e.as_rasa(type(self).__name__) for e in found]
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left alone: the rules are not learned."""
        return training_data
