"""One customer message, one sensible reply: no action loops, no conversation stuck.

What Rasa 3.6 does, and why a conversation could go silent for good:

- Rasa predicts actions until one of them is ``action_listen``, at most
  ``max_number_of_predictions`` (10) times. When a policy keeps predicting the same
  action (after a form rejected a message, the fallback answer followed itself), the
  customer got the same apology ten times in one reply, and the prediction loop was
  cut off by the "circuit breaker" without ``action_listen``.
- The limit counts executed actions back to the last ``action_listen``, across user
  messages. With no ``action_listen`` after the breaker tripped, every later message
  started over the limit: the breaker tripped at once and the customer got nothing,
  for the rest of the conversation.

What changes (installed by `addons.patches`):

- Within one turn no action runs twice (a form that took up its question again after
  an interruption is the exception: it is the active loop). An action about to run a
  second time is replaced by ``action_listen``, so one reply never repeats itself.
- The limit counts the actions of this turn only (back to the customer's message).
- If the breaker still trips, ``action_listen`` is recorded, so the next message is
  handled normally, and the channels tell the customer (addons/channels.py).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.core.actions.action import action_for_name_or_text
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

logger = logging.getLogger(__name__)
GUARD_POLICY = "finassist_turn_guard"
_PREDICT = MessageProcessor.predict_next_with_tracker_if_should
_INIT = MessageProcessor.__init__
RASA_LIMIT = MessageProcessor.is_action_limit_reached  # Rasa's own, for the tests
_ENDS_A_TURN = (ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME)


def actions_this_turn(tracker: DialogueStateTracker) -> list[str]:
    """The actions run since the customer's latest message (or the last listen)."""
    names: list[str] = []
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            break
        if isinstance(event, ActionExecuted):
            if event.action_name in _ENDS_A_TURN:
                break
            if event.action_name:
                names.append(event.action_name)
    return names


def _predict_once_per_turn(
    self: MessageProcessor, tracker: DialogueStateTracker
) -> Any:
    action, prediction = _PREDICT(self, tracker)
    name = action.name()
    loop = tracker.active_loop_name
    if name not in _ENDS_A_TURN and name != loop and name in actions_this_turn(tracker):
        logger.warning(
            "turn guard: %s was about to run twice in one turn; listening instead", name
        )
        listen = PolicyPrediction.for_action_name(
            self.domain, ACTION_LISTEN_NAME, GUARD_POLICY
        )
        return (
            action_for_name_or_text(ACTION_LISTEN_NAME, self.domain, None),
            listen,
        )
    return action, prediction


def _limit_per_turn(
    self: MessageProcessor,
    tracker: DialogueStateTracker,
    should_predict_another_action: bool,
) -> bool:
    return (
        should_predict_another_action
        and len(actions_this_turn(tracker)) >= self.max_number_of_predictions
    )


def _listen_after_circuit_break(
    tracker: DialogueStateTracker, output_channel: Any, nlg: Any
) -> None:
    """The breaker tripped: end the turn properly so the next one starts clean."""
    tracker.update(ActionExecuted(ACTION_LISTEN_NAME))


def _init(self: MessageProcessor, *args: Any, **kwargs: Any) -> None:
    _INIT(self, *args, **kwargs)
    if self.on_circuit_break is None:
        self.on_circuit_break = _listen_after_circuit_break


def install() -> None:
    """Install the turn guard (idempotent)."""
    MessageProcessor.predict_next_with_tracker_if_should = _predict_once_per_turn  # type: ignore[method-assign]
    MessageProcessor.is_action_limit_reached = _limit_per_turn  # type: ignore[method-assign]
    MessageProcessor.__init__ = _init  # type: ignore[method-assign]
