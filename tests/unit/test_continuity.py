"""One customer across channels: history per turn, the offer, carrying facts over."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.continuity import (
    RESUME_ACTIONS,
    carried_context,
    channel_name,
    topic_name,
    worth_offering,
)
from actions.dialogue.continuity import ActionDeclineResume, ActionResumePrevious
from actions.dialogue.session import ActionGreet, ActionSessionStart
from actions.dialogue.slots import ValidateSlotMappings
from actions.profile_db.repository import ProfileRepository
from actions.settings import PROJECT_ROOT as ROOT
from tests.conftest import token_for
from tests.trackers import make_tracker

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
pytestmark = pytest.mark.usefixtures("use_repo")


def test_only_recent_unfinished_topics_that_can_resume_are_offered() -> None:
    fresh, stale = NOW - timedelta(minutes=5), NOW - timedelta(hours=3)
    assert worth_offering("mortgage", "in_progress", None, fresh, NOW)
    assert not worth_offering("mortgage", "in_progress", None, stale, NOW)
    assert not worth_offering("mortgage", "ended", None, fresh, NOW)
    assert not worth_offering("lost_card", "in_progress", None, fresh, NOW)
    assert not worth_offering(None, "in_progress", None, fresh, NOW)
    assert worth_offering("transfer", "in_progress", "transfer", fresh, NOW)
    assert not worth_offering("transfer", "in_progress", None, fresh, NOW)


def test_names_in_the_customers_words() -> None:
    assert channel_name("rest", "zh") == "手机银行"
    assert channel_name("socketio", "en") == "the web chat"
    assert topic_name("mortgage", {"home_status": "first"}, "zh") == "首套房贷利率"
    assert topic_name("mortgage", {}, "en") == "mortgage rates"
    context = carried_context(
        "mortgage", {"home_status": "second", "loan_term": "30", "amount": "5"}
    )
    assert context == {"home_status": "second", "loan_term": "30"}


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, tracker, {}), dispatcher


async def test_each_turn_updates_the_history_and_a_new_channel_is_offered_it(
    repo: ProfileRepository,
) -> None:
    web = make_tracker(
        text="首套",
        intent="inform",
        token=token_for("C001"),
        sender_id="web-conversation",
        input_channel="socketio",
        slots={"topic": "mortgage", "home_status": "first"},
    )
    await ValidateSlotMappings().get_validation_events(CollectingDispatcher(), web, {})
    app = make_tracker(
        text="",
        sender_id="app-conversation",
        input_channel="rest",
        session_metadata={"auth_token": token_for("C001")},
    )
    events, _ = await run(ActionSessionStart(), app)
    offer = next(e["value"] for e in events if e.get("name") == "resume_offer")
    assert offer["channel"] == "socketio" and offer["topic"] == "mortgage"
    assert offer["context"] == {"home_status": "first"}

    hello = make_tracker(
        text="你好",
        intent="greet",
        token=token_for("C001"),
        sender_id="app-conversation",
        slots={"resume_offer": offer},
    )
    events, dispatcher = await run(ActionGreet(), hello)
    [message] = dispatcher.messages
    assert message["response"] == "utter_resume_offer"
    assert message["channel"] == "网页" and message["topic"] == "首套房贷利率"
    assert events == [SlotSet("continuity_pending", True)]

    yes = make_tracker(
        text="好的",
        intent="affirm",
        token=token_for("C001"),
        sender_id="app-conversation",
        slots={"resume_offer": offer, "continuity_pending": True},
    )
    events, dispatcher = await run(ActionResumePrevious(), yes)
    assert SlotSet("home_status", "first") in events
    assert SlotSet("topic", "mortgage") in events
    assert SlotSet("continuity_pending", None) in events
    assert dispatcher.messages[0]["response"] == "utter_resume_ok"


def test_every_resumable_topic_has_its_rule() -> None:
    rules = yaml.safe_load(
        (ROOT / "data" / "rules" / "continuity.yml").read_text(encoding="utf-8")
    )["rules"]
    pairs = {}
    for rule in rules:
        steps = rule["steps"]
        topics = [
            s["slot_was_set"][-1].get("topic") for s in steps if "slot_was_set" in s
        ]
        actions = [s["action"] for s in steps if "action" in s]
        if topics and len(actions) == 2:
            pairs[topics[0]] = actions[1]
    assert pairs == dict(RESUME_ACTIONS)


async def test_the_same_conversation_or_an_ended_one_is_not_offered(
    repo: ProfileRepository,
) -> None:
    repo.record_interaction(
        customer_id="C002",
        conversation_id="done",
        channel="rest",
        topic="mortgage",
        outcome="ended",
    )
    repo.record_interaction(
        customer_id="C002",
        conversation_id="same",
        channel="rest",
        topic="balance",
        outcome="in_progress",
    )
    tracker = make_tracker(
        text="", sender_id="same", session_metadata={"auth_token": token_for("C002")}
    )
    events, _ = await run(ActionSessionStart(), tracker)
    assert not [e for e in events if e.get("name") == "resume_offer"]


async def test_declining_forgets_the_offer() -> None:
    tracker = make_tracker(
        text="不用了", intent="deny", slots={"continuity_pending": True}
    )
    events, dispatcher = await run(ActionDeclineResume(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_resume_declined"
    assert SlotSet("resume_offer", None) in events


async def test_an_unanswered_offer_lapses() -> None:
    tracker = make_tracker(
        text="查余额", intent="check_balance", slots={"continuity_pending": True}
    )
    extracted = await ValidateSlotMappings().extract_continuity_pending(
        CollectingDispatcher(), tracker, {}
    )
    assert extracted == {"continuity_pending": None}
    forgotten = await ValidateSlotMappings().extract_resume_offer(
        CollectingDispatcher(), tracker, {}
    )
    assert forgotten == {"resume_offer": None}


async def test_the_offer_is_only_for_the_customer_it_was_made_for() -> None:
    offer = {
        "customer_id": "C001",
        "channel": "rest",
        "topic": "mortgage",
        "context": {"home_status": "first"},
    }
    for token in (token_for("C002"), None):
        hello = make_tracker(
            text="hi", intent="greet", token=token, slots={"resume_offer": offer}
        )
        _, dispatcher = await run(ActionGreet(), hello)
        assert [m["response"] for m in dispatcher.messages] != ["utter_resume_offer"]
        yes = make_tracker(
            text="yes",
            intent="affirm",
            token=token,
            slots={"resume_offer": offer, "continuity_pending": True},
        )
        events, _ = await run(ActionResumePrevious(), yes)
        assert not [e for e in events if e.get("name") == "home_status"]


async def test_a_stopped_transfer_is_never_offered_again(
    repo: ProfileRepository,
) -> None:
    from actions.dialogue.transfers import ActionCancelTransfer

    inside = make_tracker(
        text="给张伟转五千",
        intent="transfer_money",
        token=token_for("C003"),
        sender_id="t-1",
        active_loop="transfer_form",
        slots={"topic": "transfer", "amount": "5000.00", "recipient": "张伟"},
    )
    await ValidateSlotMappings().get_validation_events(
        CollectingDispatcher(), inside, {}
    )
    cancel = make_tracker(
        text="算了",
        intent="stop",
        token=token_for("C003"),
        sender_id="t-1",
        active_loop="transfer_form",
    )
    await run(ActionCancelTransfer(), cancel)
    app = make_tracker(
        text="", sender_id="t-2", session_metadata={"auth_token": token_for("C003")}
    )
    events, _ = await run(ActionSessionStart(), app)
    assert not [e for e in events if e.get("name") == "resume_offer"]


def test_a_transfer_keeps_its_reference_across_channels() -> None:
    ref = "tr-" + "0123456789" * 3 + "ab"  # digit runs that look like an account
    slots = {"amount": "3000.00", "recipient": "王芳", "transfer_ref": ref}
    assert carried_context("transfer", slots) == {
        "amount": "3000.00",
        "recipient": "王芳",
        "transfer_ref": ref,
    }
    forged = dict(slots, transfer_ref="tr-6222021234567890128")
    assert "transfer_ref" not in carried_context("transfer", forged)
