"""Risk detection in the NLU pipeline: every customer message is checked by the rules.

Adds a ``risk`` key to the parse result (ruleset, score, category and the hits with
masked evidence, see `actions.risk.detector`). `action_validate_slot_mappings` turns a
hit into the ``risk_alert`` escalation, and the dialogue rules stop the operation and
hand the customer to a person. Non-trainable: a rule change in
`actions/risk/rules.yml` takes effect on restart, without retraining.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from actions.risk.detector import RiskDetector, default_detector

RISK_KEY = "risk"


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False
)
class RiskDetectorComponent(GraphComponent):
    """Runs the spaCy risk rules over each message."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """No options: the rules live in actions/risk/rules.yml."""
        return {}

    def __init__(self, detector: RiskDetector) -> None:
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RiskDetectorComponent:
        """Build the detector once per process."""
        return cls(default_detector())

    def process(self, messages: list[Message]) -> list[Message]:
        """Put the assessment of each message under ``risk`` in its parse result."""
        for message in messages:
            assessment = self._detector.assess(message.get(TEXT) or "")
            message.set(RISK_KEY, assessment.as_dict(), add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training data is left alone: the rules are not learned."""
        return training_data
