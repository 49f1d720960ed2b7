"""What the dialogue does with a risk hit: the escalation name and the reply to give."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

RISK_ESCALATION = "risk_alert"  # value of the `escalation` slot for a risk hit
# Categories where the customer is most likely the victim: they get the fraud warning
# (nobody legitimate asks you to move money; stop, hang up, talk to us).
VICTIM_CATEGORIES = frozenset({"scam_direction", "new_payee_large"})


def warning_response(categories: Iterable[str]) -> str:
    """The reply to a stopped operation: a fraud-victim warning or a calm refusal."""
    return (
        "utter_risk_fraud_warning"
        if VICTIM_CATEGORIES & set(categories)
        else "utter_risk_restricted"
    )


def message_risk(parse_data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ``risk`` assessment of a parsed message, if any rule fired on it."""
    risk = (parse_data or {}).get("risk") or {}
    return dict(risk) if risk.get("hits") else None


def risk_since_form_start(
    events: Sequence[Mapping[str, Any]], form: str
) -> dict[str, Any] | None:
    """The latest risky customer message since `form` was activated, if any.

    A transfer must not go ahead when any answer inside its form tripped a rule, even
    if the form went on (defence in depth behind the form's own check).
    """
    for event in reversed(events):
        if event.get("event") == "active_loop" and event.get("name") == form:
            return None
        if event.get("event") == "user":
            found = message_risk(event.get("parse_data"))
            if found:
                return found
    return None
