"""The A/B experiments in the dialogue, and the validation action's slot events.

C001 and C002 are in the control arms of both experiments (concise, late); C003 is in
both other arms (empathetic, early), as actions.experiments.assign places them.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.dialogue.fallback import ActionKnowledgeAnswer, misunderstood_turns
from actions.dialogue.slots import ValidateSlotMappings
from actions.experiments import assign
from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from tests.conftest import token_for
from tests.trackers import make_tracker

pytestmark = pytest.mark.usefixtures("use_repo")


def test_the_test_customers_arms() -> None:
    assert [assign("reply_tone", c, "x") for c in ("C001", "C002", "C003")] == [
        "concise",
        "concise",
        "empathetic",
    ]
    assert [assign("offer_human", c, "x") for c in ("C001", "C002", "C003")] == [
        "late",
        "late",
        "early",
    ]


def assignments(repo: ProfileRepository) -> list[tuple[str, str, str | None]]:
    with repo.engine.connect() as conn:
        rows = conn.execute(
            select(
                m.ExperimentAssignment.experiment,
                m.ExperimentAssignment.variant,
                m.ExperimentAssignment.customer_id,
            )
        ).all()
    return [tuple(r) for r in rows]


def turn(
    emotion: str,
    history: list[str],
    customer: str | None,
    **slots: Any,
):
    """A tracker after Rasa's extraction, as the validation action receives it."""
    tracker = make_tracker(
        text="我的钱怎么不见了",
        intent="inform",
        token=token_for(customer) if customer else None,
        slots={"emotion": history[-1] if history else None, **slots},
    )
    tracker.latest_message["emotion"] = {"label": emotion, "score": 0.8}
    tracker.slots["emotion_history"] = history
    return tracker


async def validate(tracker) -> tuple[list[dict], list[str]]:
    dispatcher = CollectingDispatcher()
    events = await ValidateSlotMappings().run(dispatcher, tracker, {})
    return events, [msg["response"] for msg in dispatcher.messages]


async def test_unchanged_slots_are_not_set_again() -> None:
    tracker = turn("calm", ["calm"], "C001", tone="plain", needs_human=False)
    events, _ = await validate(tracker)
    names = {e["name"] for e in events if e["event"] == "slot"}
    # language (zh), emotion (calm), tone (plain) and needs_human (False) stay as
    # they were: no event. The rolling history changes.
    assert not names & {"language", "emotion", "tone", "needs_human"}
    assert {"name": "emotion_history", "value": ["calm", "calm"]}.items() <= next(
        e for e in events if e.get("name") == "emotion_history"
    ).items()


async def test_a_changed_emotion_is_set() -> None:
    events, _ = await validate(turn("anxious", ["calm"], "C001", tone="plain"))
    values = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert values["emotion"] == "anxious"
    assert values["tone"] == "gentle"


async def test_empathetic_arm_acknowledges_the_feeling_once(
    repo: ProfileRepository,
) -> None:
    _, said = await validate(turn("anxious", ["calm"], "C003"))
    assert said == ["utter_empathy_anxious"]
    assert assignments(repo) == [("reply_tone", "empathetic", "C003")]
    # Still anxious on the next turn: not said again.
    _, said = await validate(turn("anxious", ["calm", "anxious"], "C003"))
    assert said == []
    _, said = await validate(turn("angry", ["calm", "calm"], "C003"))
    assert said == ["utter_empathy_angry"]


async def test_concise_arm_and_anonymous_customers_get_no_acknowledgement(
    repo: ProfileRepository,
) -> None:
    _, said = await validate(turn("angry", ["calm"], "C001"))
    assert said == []
    assert assignments(repo) == [("reply_tone", "concise", "C001")]
    _, said = await validate(turn("angry", ["calm"], None))
    assert said == []
    assert len(assignments(repo)) == 1  # anonymous visitors are not in experiments


async def test_calm_turns_are_not_exposed(repo: ProfileRepository) -> None:
    _, said = await validate(turn("calm", ["calm"], "C003"))
    assert said == [] and assignments(repo) == []


def missed(reply: str) -> list[dict]:
    return [
        {"event": "user", "text": "??"},
        {"event": "bot", "text": "...", "metadata": {"utter_action": reply}},
        {"event": "action", "name": "action_listen"},
    ]


def test_misunderstood_turns_counts_the_latest_run_only() -> None:
    current = [{"event": "user", "text": "now"}]
    assert misunderstood_turns(current) == 0
    assert misunderstood_turns(missed("utter_default") + current) == 1
    assert (
        misunderstood_turns(
            missed("utter_default")
            + missed("utter_balance")
            + missed("utter_default")
            + missed("utter_offer_human")
            + current
        )
        == 2
    )


async def not_understood(customer: str | None, earlier: list[dict]) -> list[str]:
    tracker = make_tracker(
        text="zxqv blorp wug",
        intent="nlu_fallback",
        token=token_for(customer) if customer else None,
    )
    tracker.events[:0] = earlier
    dispatcher = CollectingDispatcher()
    await ActionKnowledgeAnswer().run(dispatcher, tracker, {})
    return [msg["response"] for msg in dispatcher.messages]


async def test_late_arm_offers_a_person_at_the_second_miss(
    repo: ProfileRepository,
) -> None:
    assert await not_understood("C001", []) == ["utter_default"]
    assert await not_understood("C001", missed("utter_default")) == [
        "utter_offer_human"
    ]
    assert assignments(repo) == [("offer_human", "late", "C001")]


async def test_early_arm_offers_a_person_at_the_first_miss(
    repo: ProfileRepository,
) -> None:
    assert await not_understood("C003", []) == ["utter_offer_human"]
    assert assignments(repo) == [("offer_human", "early", "C003")]


async def test_anonymous_visitors_get_the_control(repo: ProfileRepository) -> None:
    assert await not_understood(None, []) == ["utter_default"]
    assert await not_understood(None, missed("utter_default")) == ["utter_offer_human"]
    assert assignments(repo) == []
