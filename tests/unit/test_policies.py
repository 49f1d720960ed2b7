"""addons/policies.py: TED's predictions, remembered per dialogue-state sequence."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from addons.policies import CachedTEDPolicy, frozen

DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, check_balance, thanks]
slots:
  topic:
    type: categorical
    values: [balance]
    influence_conversation: true
    mappings: [{type: from_intent, intent: check_balance, value: balance}]
responses:
  utter_greet: [{text: hi}]
  utter_balance: [{text: balance}]
  utter_welcome: [{text: welcome}]
"""
)
STORIES = """
version: "3.1"
stories:
- story: balance
  steps:
  - intent: greet
  - action: utter_greet
  - intent: check_balance
  - slot_was_set: [{topic: balance}]
  - action: utter_balance
  - intent: thanks
  - action: utter_welcome
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> CachedTEDPolicy:
    """A small TED trained for two epochs (its answers only need to be repeatable)."""
    folder = tmp_path_factory.mktemp("ted")
    stories = folder / "stories.yml"
    stories.write_text(STORIES, encoding="utf-8")
    trackers = load_data(str(stories), DOMAIN, augmentation_factor=0)
    (folder / "storage").mkdir()
    policy = CachedTEDPolicy.create(
        {**CachedTEDPolicy.get_default_config(), "epochs": 2, "random_seed": 1},
        LocalModelStorage(Path(folder) / "storage"),
        Resource("ted"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    policy.train(trackers, DOMAIN)
    return policy


def conversation(*intents: str) -> DialogueStateTracker:
    """A tracker after these user messages, each answered by the story's response."""
    events: list = [ActionExecuted("action_listen")]
    answers = {"greet": "utter_greet", "check_balance": "utter_balance"}
    for i, intent in enumerate(intents):
        events.append(UserUttered(intent, {"name": intent, "confidence": 1.0}))
        if intent == "check_balance":
            events.append(SlotSet("topic", "balance"))
        if i < len(intents) - 1:
            events += [ActionExecuted(answers[intent]), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events("c", events, slots=DOMAIN.slots)


def teds_own(policy: CachedTEDPolicy, tracker: DialogueStateTracker) -> list[float]:
    return TEDPolicy.predict_action_probabilities(policy, tracker, DOMAIN).probabilities


def test_a_repeated_state_sequence_is_answered_from_memory(
    trained: CachedTEDPolicy,
) -> None:
    trained._predictions.clear()
    hits, misses = trained.hits, trained.misses
    first = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
    # another customer, another tracker object, the same states
    second = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
    assert (trained.misses - misses, trained.hits - hits) == (1, 1)
    assert second.probabilities == first.probabilities
    assert second.probabilities == teds_own(trained, conversation("greet"))
    assert second.policy_name == "CachedTEDPolicy"


def test_different_states_get_teds_own_different_answers(
    trained: CachedTEDPolicy,
) -> None:
    trained._predictions.clear()
    greet = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
    later = conversation("greet", "check_balance")
    balance = trained.predict_action_probabilities(later, DOMAIN)
    assert len(trained._predictions) == 2
    assert balance.probabilities == teds_own(trained, later)
    assert balance.probabilities != greet.probabilities


def test_the_key_is_the_state_sequence_ted_sees(trained: CachedTEDPolicy) -> None:
    tracker = conversation("greet", "check_balance")
    key = trained._cache_key(tracker, DOMAIN, None)
    states = trained._prediction_states(tracker, DOMAIN)
    assert key == (frozen(states), None)  # no message text: no end-to-end stories
    assert dict(dict(key[0][-1])["user"])["intent"] == "check_balance"
    assert trained._cache_key(conversation("greet"), DOMAIN, None) != key


def test_a_caller_changing_its_prediction_does_not_change_the_memory(
    trained: CachedTEDPolicy,
) -> None:
    trained._predictions.clear()
    first = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
    expected = list(first.probabilities)
    first.probabilities[0] = 42.0
    again = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
    assert again.probabilities == expected


def test_the_table_is_bounded_and_can_be_turned_off(trained: CachedTEDPolicy) -> None:
    trained._predictions.clear()
    trained.config["prediction_cache_size"] = 1
    try:
        trained.predict_action_probabilities(conversation("greet"), DOMAIN)
        trained.predict_action_probabilities(
            conversation("greet", "check_balance"), DOMAIN
        )
        assert len(trained._predictions) == 1
        trained._predictions.clear()
        trained.config["prediction_cache_size"] = 0
        off = trained.predict_action_probabilities(conversation("greet"), DOMAIN)
        assert not trained._predictions
        assert off.probabilities == teds_own(trained, conversation("greet"))
    finally:
        trained.config["prediction_cache_size"] = 4096


def test_finassist_uses_it() -> None:
    config = Path(__file__).resolve().parents[2] / "config.yml"
    assert "name: addons.policies.CachedTEDPolicy" in config.read_text(encoding="utf-8")
