"""What the dialogue does with a risk hit: the escalation name and the reply to give."""

from __future__ import annotations

from collections.abc import Iterable

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
