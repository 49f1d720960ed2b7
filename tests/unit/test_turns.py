"""The turn guard (addons/turns.py): no action twice in a turn, no stuck conversation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

import addons  # noqa: F401  (installs the patches, as the Rasa server does)
from addons import turns

DOMAIN = Domain.from_dict(
    {
        "intents": ["greet"],
        "actions": ["action_knowledge_answer", "action_check_balance"],
        "forms": {"transfer_form_x": {"required_slots": []}},
    }
)


def tracker_of(*events) -> DialogueStateTracker:
    return DialogueStateTracker.from_events(
        "t", [ActionExecuted("action_listen"), *events]
    )


def stuck_conversation() -> DialogueStateTracker:
    """The silent conversation of issue 16: a fallback ran ten times, no listen."""
    events = [UserUttered("好,继续刚才的转账")]
    events += [ActionExecuted("action_knowledge_answer") for _ in range(10)]
    events += [UserUttered("转五千")]
    return tracker_of(*events)


def test_the_stuck_conversation_was_over_the_limit_for_good() -> None:
    processor = SimpleNamespace(max_number_of_predictions=10)
    assert MessageProcessor.is_action_limit_reached is turns._limit_per_turn
    # Rasa's own count runs back to the last listen, across the customer's messages:
    # every later turn of this conversation tripped the breaker, and got silence.
    assert turns.RASA_LIMIT(processor, stuck_conversation(), True)
    assert not turns._limit_per_turn(processor, stuck_conversation(), True)


def test_actions_this_turn_stop_at_the_customers_message() -> None:
    tracker = tracker_of(
        UserUttered("a"),
        ActionExecuted("action_check_balance"),
        ActionExecuted("action_listen"),
        UserUttered("b"),
        ActionExecuted("action_knowledge_answer"),
        ActionExecuted("utter_offer_human"),
    )
    assert turns.actions_this_turn(tracker) == [
        "utter_offer_human",
        "action_knowledge_answer",
    ]


@pytest.mark.parametrize(
    ("ran", "predicted", "active_loop", "expected"),
    [
        (["action_knowledge_answer"], "action_knowledge_answer", None, "action_listen"),
        (
            ["action_check_balance"],
            "action_knowledge_answer",
            None,
            "action_knowledge_answer",
        ),
        ([], "action_knowledge_answer", None, "action_knowledge_answer"),
        # a form takes its question up again after an interruption: allowed
        (
            ["transfer_form_x", "action_check_balance"],
            "transfer_form_x",
            "transfer_form_x",
            "transfer_form_x",
        ),
        (["action_knowledge_answer"], "action_listen", None, "action_listen"),
    ],
)
def test_no_action_runs_twice_in_one_turn(
    monkeypatch: pytest.MonkeyPatch, ran, predicted, active_loop, expected
) -> None:
    events = [ActiveLoop(active_loop)] if active_loop else []
    events += [UserUttered("x")] + [ActionExecuted(name) for name in ran]
    tracker = tracker_of(*events)
    assert tracker.active_loop_name == active_loop
    proposed = SimpleNamespace(name=lambda: predicted)
    monkeypatch.setattr(turns, "_PREDICT", lambda self, t: (proposed, "prediction"))
    processor = SimpleNamespace(domain=DOMAIN)
    action, prediction = turns._predict_once_per_turn(processor, tracker)
    assert action.name() == expected
    if expected != predicted:
        assert prediction.policy_name == turns.GUARD_POLICY


def test_a_tripped_breaker_ends_the_turn_with_listen() -> None:
    tracker = stuck_conversation()
    turns._listen_after_circuit_break(tracker, None, None)
    assert tracker.latest_action_name == "action_listen"
