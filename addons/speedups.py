"""Per-turn work Rasa 3.6 repeats needlessly, done once (measured by `make bench`).

Rasa validates every action server response with ``jsonschema.validate(result,
schema)``, which first checks the schema itself against the JSON Schema metaschema and
builds a new validator: about 20 ms of CPU on each of the two custom-action calls a
FinAssist turn makes (`action_validate_slot_mappings`, then the answer), a third of the
Rasa server's time under load. The schema is a constant, so it is checked once here and
its validator reused: the same schema, the same errors, about 1 ms per response.

Reading a tracker turns every stored event back into an object by its type name, and
Rasa finds the class by walking all subclasses of `Event` each time (about 4 % of the
server's time). A name, once resolved, is remembered.

Each prediction asks the same tracker for its dialogue states several times (the
memoization, rule and TED policies, the rule policy more than once), and each time Rasa
replays the whole conversation to build them. The states of a tracker are now built
once per (domain, options) for as long as its events do not change, and every caller
gets its own copy (callers edit the last state).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

_RESOLVE_BY_TYPE = Event.resolve_by_type
_PAST_STATES = DialogueStateTracker.past_states
_STATES_ATTRIBUTE = "_finassist_past_states"
_EVENT_CLASSES: dict[str, type[Event]] = {}


@lru_cache(maxsize=1)
def _response_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's check of an action server response, with the validator built once."""
    try:
        _response_validator().validate(result)
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your "
            "response from the Action endpoint is valid. For more information about "
            f"the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise
    return True


def _resolve_by_type(
    type_name: str, default: type[Event] | None = None
) -> type[Event] | None:
    """`Event.resolve_by_type`, remembering each name it resolved to a class."""
    known = _EVENT_CLASSES.get(type_name)
    if known is not None:
        return known
    found = _RESOLVE_BY_TYPE(type_name, default)
    if found is not None and found is not default:
        _EVENT_CLASSES[type_name] = found
    return found


def _past_states(
    self: DialogueStateTracker,
    domain: Domain,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: dict[str, Any] | None = None,
) -> list[State]:
    """`DialogueStateTracker.past_states`, built once while the events stay the same.

    The events only ever grow during a turn; the remembered states belong to the exact
    event list they were built from (its length and its last event object).
    """
    last = self.events[-1] if self.events else None
    key = (
        id(domain),
        omit_unset_slots,
        ignore_rule_only_turns,
        id(rule_only_data),
    )
    memo = self.__dict__.get(_STATES_ATTRIBUTE)
    if memo is None or memo[0] != len(self.events) or memo[1] is not last:
        memo = (len(self.events), last, {})
        self.__dict__[_STATES_ATTRIBUTE] = memo
    entry = memo[2].get(key)
    if entry is None:
        states = _PAST_STATES(
            self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        )
        # The domain and rule data stay referenced with the states, so their ids
        # cannot pass to other objects while the entry exists.
        entry = memo[2][key] = (states, domain, rule_only_data)
    states = entry[0]
    return [{part: dict(values) for part, values in s.items()} for s in states]


def install() -> None:
    """Use the remembered validator, event classes and states here (idempotent)."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign]
    DialogueStateTracker.past_states = _past_states  # type: ignore[method-assign]
