"""Emotion: what a score means, the rolling state, and when a human must step in.

Pure decisions, table-tested; the scores come from the NLU pipeline (addons.emotion).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

EMOTIONS = ("calm", "confused", "anxious", "angry")
# Valence of each category; a message's score is the probability-weighted mean, in
# [-1, 1]. Calm is mildly positive: most calm banking messages are neutral requests.
VALENCE = {"calm": 0.3, "confused": -0.3, "anxious": -0.7, "angry": -1.0}
DISTRESSED = frozenset({"anxious", "angry"})
HISTORY_TURNS = 10
# Topics where an anxious customer goes to a person at once: their money may be at risk.
HIGH_STAKES_TOPICS = frozenset({"lost_card", "fraud", "missing_money"})


@dataclass(frozen=True)
class EmotionScore:
    """The emotion of one message."""

    emotion: str
    score: float
    urgent: bool
    confidence: float


def score_from_probabilities(probabilities: Mapping[str, float]) -> float:
    """Probability-weighted valence, clipped to [-1, 1] and rounded to 3 places."""
    value = sum(VALENCE[c] * p for c, p in probabilities.items() if c in VALENCE)
    return round(max(-1.0, min(1.0, value)), 3)


@dataclass(frozen=True)
class EscalationDecision:
    """Whether the conversation should go to a human now, and why."""

    escalate: bool
    reason: str | None


def roll(history: Sequence[str], emotion: str) -> list[str]:
    """Append this turn's emotion to the history, keeping the last HISTORY_TURNS."""
    return [*history, emotion][-HISTORY_TURNS:]


def decide_escalation(
    history: Sequence[str], intent: str | None, topic: str | None, urgent: bool = False
) -> EscalationDecision:
    """Apply the escalation rules to the history that already includes this turn.

    - anxious or angry twice within the last three turns;
    - angry while complaining;
    - anxious (or urgent) on a high-stakes topic: a lost or stolen card, missing money,
      fraud.

    Args:
        history: emotions of the customer's turns, oldest first, this turn last.
        intent: this turn's intent.
        topic: the topic under way (the `topic` slot).
        urgent: this turn's urgency flag.

    Returns:
        The decision with a reason code (``repeated_distress``, ``angry_complaint``,
        ``high_stakes``).
    """
    if not history:
        return EscalationDecision(False, None)
    current = history[-1]
    if current == "angry" and intent == "complain":
        return EscalationDecision(True, "angry_complaint")
    high_stakes = topic in HIGH_STAKES_TOPICS or intent == "report_lost_card"
    if high_stakes and (current == "anxious" or (urgent and current in DISTRESSED)):
        return EscalationDecision(True, "high_stakes")
    if sum(1 for e in history[-3:] if e in DISTRESSED) >= 2 and current in DISTRESSED:
        return EscalationDecision(True, "repeated_distress")
    return EscalationDecision(False, None)
