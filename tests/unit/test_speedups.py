"""addons/speedups.py: the same answers as Rasa's own code, computed once."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

import addons  # noqa: F401  (installs the speedups, as the Rasa server does)
from addons import speedups


def remote() -> RemoteAction:
    return RemoteAction("action_x", None)


def test_installed() -> None:
    assert RemoteAction._validate_action_result is speedups._validate_action_result
    assert Event.resolve_by_type is speedups._resolve_by_type


def test_a_valid_action_response_passes() -> None:
    result = {
        "events": [{"event": "slot", "name": "tone", "value": "plain"}],
        "responses": [{"response": "utter_greet", "buttons": []}],
    }
    assert remote()._validate_action_result(result) is True


@pytest.mark.parametrize(
    "result",
    [
        {"events": [{"event": "slot", "value": "no name"}]},
        {"events": [{"event": "no_such_event"}]},
        {"responses": "not a list"},
    ],
)
def test_an_invalid_action_response_is_rejected_as_before(result: dict) -> None:
    with pytest.raises(ValidationError, match="Failed to validate Action server"):
        remote()._validate_action_result(result)


def test_every_event_type_resolves_to_rasas_class() -> None:
    for cls in all_subclasses(Event):
        assert Event.resolve_by_type(cls.type_name) is speedups._RESOLVE_BY_TYPE(
            cls.type_name
        )
    assert Event.resolve_by_type("slot") is SlotSet
    assert Event.resolve_by_type("user") is UserUttered
    assert Event.resolve_by_type("action") is ActionExecuted


def test_unknown_event_types_are_not_remembered() -> None:
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no_such_event")
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert "no_such_event" not in speedups._EVENT_CLASSES
    assert Event.resolve_by_type("topic") is None


def test_events_deserialise_through_the_cache() -> None:
    events = [
        {"event": "slot", "name": "tone", "value": "plain"},
        {"event": "action", "name": "action_listen"},
    ]
    restored = [Event.from_parameters(e) for e in events]
    assert [type(e) for e in restored] == [SlotSet, ActionExecuted]


def _tracker_and_domain() -> tuple:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_yaml(
        """
version: "3.1"
intents: [greet, check_balance]
slots:
  topic:
    type: categorical
    values: [balance]
    mappings: [{type: from_intent, intent: check_balance, value: balance}]
responses:
  utter_greet: [{text: hi}]
"""
    )
    events = [
        ActionExecuted("action_listen"),
        UserUttered("hi", {"name": "greet", "confidence": 1.0}),
        ActionExecuted("utter_greet"),
        ActionExecuted("action_listen"),
        UserUttered("balance", {"name": "check_balance", "confidence": 1.0}),
        SlotSet("topic", "balance"),
    ]
    return DialogueStateTracker.from_events("c", events, slots=domain.slots), domain


@pytest.mark.parametrize("omit_unset", [False, True])
@pytest.mark.parametrize("ignore_rule_only", [False, True])
def test_past_states_are_rasas_own(omit_unset: bool, ignore_rule_only: bool) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    assert DialogueStateTracker.past_states is speedups._past_states
    tracker, domain = _tracker_and_domain()
    args = (domain, omit_unset, ignore_rule_only, {"slots": [], "active_loops": []})
    expected = speedups._PAST_STATES(tracker, *args)
    assert tracker.past_states(*args) == expected
    assert tracker.past_states(*args) == expected  # from memory


def test_past_states_copies_can_be_edited_and_follow_new_events() -> None:
    tracker, domain = _tracker_and_domain()
    first = tracker.past_states(domain)
    first[-1]["user"].pop("intent")  # as Rasa's featurizer does to the last state
    first.append({})
    again = tracker.past_states(domain)
    assert again == speedups._PAST_STATES(tracker, domain)
    assert again[-1]["user"]["intent"] == "check_balance"
    tracker.update(ActionExecuted("utter_greet"))
    grown = tracker.past_states(domain)
    assert grown == speedups._PAST_STATES(tracker, domain)
    assert len(grown) == len(again) + 1
