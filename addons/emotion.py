"""The emotion NLU component: adds ``emotion`` to every parse result.

``{"emotion": {"label": "anxious", "score": -0.62, "urgent": true, "confidence": 0.81,
"backend": "trained"}}``. The default backend is trained at `rasa train` time from
`data/emotion/*.csv`; set FINASSIST_EMOTION_MODEL to a local transformers model folder
to use that instead (read when the Rasa server starts; no retraining).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import joblib
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.emotion_models import (
    DEFAULT_TRAINING_FILES,
    ROOT,
    EmotionModel,
    TrainedEmotionModel,
    TransformersEmotionModel,
    files_fingerprint,
    read_examples,
    weak_calm_examples,
)

logger = logging.getLogger(__name__)
EMOTION_KEY = "emotion"
MODEL_FILE = "emotion.joblib"
# Version of what MODEL_FILE holds; a new layout retrains instead of loading an old
# model from Rasa's training cache. 2: the urgency head shares the emotion features.
MODEL_LAYOUT = 2
TRANSFORMERS_ENV = "FINASSIST_EMOTION_MODEL"


def _paths(config: dict[str, Any]) -> list[Path]:
    return [ROOT / p for p in config.get("training_files") or DEFAULT_TRAINING_FILES]


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True
)
class EmotionClassifier(GraphComponent):
    """Scores the emotion of every customer message (category, score, urgency)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Training files relative to the project folder."""
        return {"training_files": list(DEFAULT_TRAINING_FILES)}

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """Retrain when the labelled files (not Rasa data) or MODEL_LAYOUT change."""
        return f"{MODEL_LAYOUT}:{files_fingerprint(_paths(config))}"

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: TrainedEmotionModel | None = None,
    ) -> None:
        self._config = config
        self._storage = model_storage
        self._resource = resource
        self._trained = model
        self._active: EmotionModel | None = model
        self._backend = "trained"
        path = os.environ.get(TRANSFORMERS_ENV, "").strip()
        if path and model is not None:
            self._active = TransformersEmotionModel(path, urgency=model)
            self._backend = "transformers"
            logger.info("emotion backend: transformers model at %s", path)

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EmotionClassifier:
        """A new, untrained component."""
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> EmotionClassifier:
        """The component with the model saved by `train`."""
        with model_storage.read_from(resource) as folder:
            model = joblib.load(Path(folder) / MODEL_FILE)
        return cls(config, model_storage, resource, model)

    def train(self, training_data: TrainingData) -> Resource:
        """Fit the default model and store it in the Rasa model.

        Training data: the hand-labelled CSV files, plus routine-intent NLU examples as
        weak calm labels (see `weak_calm_examples`).
        """
        intents = (
            (str(m.get(INTENT) or ""), str(m.get(TEXT) or ""))
            for m in training_data.intent_examples
        )
        examples = read_examples(_paths(self._config)) + weak_calm_examples(intents)
        model = TrainedEmotionModel.train(examples)
        with self._storage.write_to(self._resource) as folder:
            joblib.dump(model, Path(folder) / MODEL_FILE)
        self._trained = self._active = model
        return self._resource

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the emotion of each message to its parse result."""
        if self._active is None:
            return messages
        texts = [m.get(TEXT) or "" for m in messages]
        for message, score in zip(messages, self._active.predict(texts), strict=True):
            value = {
                "label": score.emotion,
                "score": score.score,
                "urgent": score.urgent,
                "confidence": score.confidence,
                "backend": self._backend,
            }
            message.set(EMOTION_KEY, value, add_to_output=True)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Intent training data is left alone."""
        return training_data
