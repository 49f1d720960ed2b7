"""The FAQ ResponseSelector, run only for messages classified as FAQ questions.

Rasa's ResponseSelector picks an answer for every message, whatever its intent, and
Rasa only uses that answer when the message's intent is the retrieval intent (`faq`):
for a balance question or a greeting the second TensorFlow model ran for nothing,
about a tenth of the Rasa server's CPU per turn (`make bench`, py-spy). This subclass
runs it when DIET's intent is `faq` (or when no intent was predicted) and leaves other
messages without a `response_selector` entry; training and the answers it gives are
Rasa's own.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class FaqResponseSelector(ResponseSelector):
    """`ResponseSelector` that selects only for messages of its retrieval intent."""

    def needed_for(self, message: Message) -> bool:
        """Whether Rasa could use this message's selection (its intent is ours)."""
        if not self.retrieval_intent:  # one selector for every retrieval intent
            return True
        intent = (message.get(INTENT) or {}).get(INTENT_NAME_KEY)
        return intent is None or intent == self.retrieval_intent

    def process(self, messages: list[Message]) -> list[Message]:
        """Rasa's selection for the messages that need one; the others unchanged."""
        wanted = [m for m in messages if self.needed_for(m)]
        if wanted:
            super().process(wanted)
        return messages
