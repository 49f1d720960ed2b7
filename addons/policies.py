"""TED with its predictions remembered per dialogue state (`config.yml`).

TED's answer is a function of the dialogue states it is given: the last `max_history`
turns' intent, entity names, featurized slots, active loop and previous action (no
message text, since no story is written end to end). Customers walk the same paths
(greeting → balance → thanks), so the same state sequence comes back again and again,
and each time TensorFlow computed the same probabilities: about a quarter of the Rasa
server's CPU per turn (`make bench`, py-spy). The prediction is now kept per state
sequence, in a bounded least-recently-used table per loaded model; a new model starts
an empty one. A state sequence never seen before runs TED as before.

Training, loading and every prediction's content are TED's own; only repeated work is
skipped.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

CACHE_SIZE = "prediction_cache_size"
DEFAULT_CACHE_SIZE = 4096


def frozen(states: list[State]) -> tuple:
    """A hashable copy of dialogue states (dicts of dicts of names, tuples, floats)."""
    return tuple(
        tuple(sorted((part, tuple(sorted(sub.items()))) for part, sub in state.items()))
        for state in states
    )


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True
)
class CachedTEDPolicy(TEDPolicy):
    """`TEDPolicy` that answers a state sequence it has already seen from memory."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """TED's settings and the size of the prediction table (0 turns it off)."""
        return {**TEDPolicy.get_default_config(), CACHE_SIZE: DEFAULT_CACHE_SIZE}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """TED as configured, with an empty prediction table."""
        super().__init__(*args, **kwargs)
        self._predictions: OrderedDict[tuple, PolicyPrediction] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def _cache_key(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None,
    ) -> tuple | None:
        """What TED's input is made of, or None when it cannot be told apart."""
        states = self._prediction_states(
            tracker,
            domain,
            use_text_for_last_user_input=self.only_e2e,
            rule_only_data=rule_only_data,
        )
        text = None
        if (
            self.only_e2e or TEXT in self.fake_features
        ) and tracker.latest_action_name == ACTION_LISTEN_NAME:
            # The message text is an input too (end-to-end stories).
            message = tracker.latest_message
            text = (message.text if message else None) or ""
        try:
            key = (frozen(states), text)
            hash(key)
        except TypeError:  # a slot featurized into something unhashable: no caching
            return None
        return key

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        precomputations: Any = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        """TED's prediction for this state sequence, computed once."""
        size = self.config.get(CACHE_SIZE, DEFAULT_CACHE_SIZE)
        key = self._cache_key(tracker, domain, rule_only_data) if size else None
        if key is not None:
            with self._lock:
                known = self._predictions.get(key)
                if known is not None:
                    self._predictions.move_to_end(key)
                    self.hits += 1
            if known is not None:
                return _copy(known)
        prediction = super().predict_action_probabilities(
            tracker, domain, rule_only_data, precomputations, **kwargs
        )
        if key is not None and not prediction.optional_events:
            with self._lock:
                self.misses += 1
                self._predictions[key] = _copy(prediction)
                while len(self._predictions) > size:
                    self._predictions.popitem(last=False)
        return prediction


def _copy(prediction: PolicyPrediction) -> PolicyPrediction:
    """A prediction the ensemble may change without changing the remembered one."""
    return PolicyPrediction(
        list(prediction.probabilities),
        prediction.policy_name,
        prediction.policy_priority,
        list(prediction.events),
        list(prediction.optional_events),
        prediction.is_end_to_end_prediction,
        prediction.is_no_user_prediction,
        prediction.diagnostic_data,
        prediction.hide_rule_turn,
        prediction.action_metadata,
    )
