"""Each Rasa action against the seeded SQLite profile DB, with trackers built in code."""

import asyncio
import json
from decimal import Decimal

import pytest
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.accounts import ActionCheckBalance, ActionSearchTransactions
from actions.dialogue.cards import ActionCheckCardLimit, ActionFreezeCard
from actions.dialogue.handoff import ActionHandoff
from actions.dialogue.loans import ActionMortgageRate, ActionRecommendWealth
from actions.dialogue.session import ActionGreet, ActionSessionStart
from actions.dialogue.slots import ValidateSlotMappings
from actions.dialogue.transfers import (
    ActionAskTransferConfirmed,
    ActionCancelTransfer,
    ActionTransfer,
    ValidateTransferForm,
    idempotency_key,
)
from actions.handoff import base_priority
from actions.profile_db.repository import ProfileRepository
from tests.conftest import token_for
from tests.trackers import entity, make_tracker

pytestmark = pytest.mark.usefixtures("use_repo")


def responses(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["response"] for m in dispatcher.messages]


async def run(action, tracker, domain=None) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, domain or {})
    return events, dispatcher


FORM_DOMAIN = {
    "forms": {
        "transfer_form": {
            "required_slots": ["amount", "recipient", "transfer_confirmed"]
        }
    },
    "slots": {
        name: {"type": "text", "mappings": [{"type": "custom"}]}
        for name in ("amount", "recipient", "transfer_confirmed", "transfer_ref")
    },
}


# --- identity --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "action",
    [
        ActionCheckBalance(),
        ActionCheckCardLimit(),
        ActionSearchTransactions(),
        ActionFreezeCard(),
        ActionRecommendWealth(),
        ActionTransfer(),
    ],
)
async def test_own_data_needs_a_login(action) -> None:
    events, dispatcher = await run(
        action, make_tracker(text="查余额", intent="check_balance")
    )
    assert events == []
    assert responses(dispatcher) == ["utter_login_required"]


async def test_forged_token_is_treated_as_anonymous() -> None:
    tracker = make_tracker(text="查余额", intent="check_balance", token="abc.def.ghi")
    _, dispatcher = await run(ActionCheckBalance(), tracker)
    assert responses(dispatcher) == ["utter_login_required"]


# --- balance -----------------------------------------------------------------------------
async def test_balance_lists_accounts_and_total_in_chinese() -> None:
    tracker = make_tracker(
        text="查一下余额", intent="check_balance", token=token_for("C001")
    )
    events, dispatcher = await run(ActionCheckBalance(), tracker)
    assert responses(dispatcher) == [
        "utter_balance_current",
        "utter_balance_savings",
        "utter_balance_total",
    ]
    assert dispatcher.messages[0]["balance"] == "28,650.32 元"
    assert dispatcher.messages[0]["number"] == "**** 0123"
    assert dispatcher.messages[2]["total"] == "178,650.32 元"
    assert events == [SlotSet("account_type", None)]


async def test_balance_follow_up_keeps_the_account_type_in_english() -> None:
    tracker = make_tracker(
        text="and the savings account?",
        intent="inform",
        slots={"account_type": "savings"},
        token=token_for("C002"),
    )
    _, dispatcher = await run(ActionCheckBalance(), tracker)
    assert responses(dispatcher) == ["utter_balance_savings"]
    assert dispatcher.messages[0]["balance"] == "CNY 45,000.00"


async def test_fresh_balance_question_ignores_a_stale_account_type() -> None:
    tracker = make_tracker(
        text="what's my balance",
        intent="check_balance",
        slots={"account_type": "savings"},
        token=token_for("C002"),
    )
    _, dispatcher = await run(ActionCheckBalance(), tracker)
    assert responses(dispatcher)[:2] == [
        "utter_balance_current",
        "utter_balance_savings",
    ]


async def test_credit_card_follow_up_on_balance_gives_card_limits() -> None:
    tracker = make_tracker(
        text="credit card 呢",
        intent="inform",
        entities=[entity("card_type", "credit")],
        token=token_for("C001"),
    )
    _, dispatcher = await run(ActionCheckBalance(), tracker)
    assert responses(dispatcher) == ["utter_card_limit"]


# --- cards -------------------------------------------------------------------------------
async def test_card_limit() -> None:
    tracker = make_tracker(
        text="信用卡额度", intent="check_card_limit", token=token_for("C001")
    )
    _, dispatcher = await run(ActionCheckCardLimit(), tracker)
    (message,) = dispatcher.messages
    assert message["response"] == "utter_card_limit"
    assert (message["limit"], message["available"]) == ("50,000.00 元", "41,567.82 元")


async def test_lost_card_asks_which_card_when_several(repo: ProfileRepository) -> None:
    tracker = make_tracker(
        text="我的卡丢了", intent="report_lost_card", token=token_for("C003")
    )
    events, dispatcher = await run(ActionFreezeCard(), tracker)
    assert responses(dispatcher) == ["utter_ask_card_type"]
    assert events == []
    assert {c.status for c in repo.cards("C003")} == {"active"}


async def test_lost_card_freezes_the_named_card_then_reports_it_frozen(
    repo: ProfileRepository,
) -> None:
    tracker = make_tracker(
        text="借记卡",
        intent="inform",
        entities=[entity("card_type", "debit")],
        token=token_for("C003"),
    )
    events, dispatcher = await run(ActionFreezeCard(), tracker)
    assert responses(dispatcher) == [
        "utter_card_frozen_debit",
        "utter_card_frozen_next_steps",
    ]
    assert dispatcher.messages[0]["last4"] == "7778"
    assert events == [SlotSet("card_type", None)]
    statuses = {c.card_type: c.status for c in repo.cards("C003")}
    assert statuses == {"debit": "frozen", "credit": "active"}
    _, again = await run(ActionFreezeCard(), tracker)
    assert responses(again) == [
        "utter_card_already_frozen",
        "utter_card_frozen_next_steps",
    ]


# --- mortgages ---------------------------------------------------------------------------
async def test_mortgage_asks_for_home_status_first() -> None:
    _, dispatcher = await run(ActionMortgageRate(), make_tracker(text="房贷利率多少"))
    assert responses(dispatcher) == ["utter_ask_home_status"]


@pytest.mark.parametrize(
    ("home_status", "short", "long"),
    [("first", "2.60", "3.05"), ("second", "3.00", "3.45")],
)
async def test_mortgage_rates_by_home_status(
    home_status: str, short: str, long: str
) -> None:
    tracker = make_tracker(text="那二套房呢", slots={"home_status": home_status})
    events, dispatcher = await run(ActionMortgageRate(), tracker)
    first = dispatcher.messages[0]
    assert first["response"] == "utter_mortgage_rates"
    assert (first["short"], first["long"], first["version"]) == (short, long, "2026-10")
    assert events == [SlotSet("loan_term", None)]


async def test_mortgage_rate_for_a_term() -> None:
    tracker = make_tracker(
        text="贷30年呢", slots={"home_status": "first", "loan_term": "30"}
    )
    events, dispatcher = await run(ActionMortgageRate(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_mortgage_rate_term"
    assert (dispatcher.messages[0]["rate"], dispatcher.messages[0]["term"]) == (
        "3.05",
        30,
    )
    assert events == [SlotSet("loan_term", "30")]


# --- transactions -----------------------------------------------------------------------
async def test_search_transactions_by_merchant_then_period_follow_up(
    repo: ProfileRepository,
) -> None:
    ask = make_tracker(
        text="上个月在星巴克花了多少",
        intent="search_transactions",
        entities=[entity("period", "last_month"), entity("merchant", "starbucks")],
        token=token_for("C001"),
    )
    events, dispatcher = await run(ActionSearchTransactions(), ask)
    assert events == [
        SlotSet("period", "last_month"),
        SlotSet("merchant", "starbucks"),
        SlotSet("category", None),
    ]
    kinds = responses(dispatcher)
    assert kinds[0] in (
        "utter_transactions_summary_filtered",
        "utter_transactions_none",
    )
    if kinds[0] == "utter_transactions_summary_filtered":
        assert dispatcher.messages[0]["filter"] == "星巴克"
    follow = make_tracker(
        text="那这个月呢",
        intent="inform",
        entities=[entity("period", "this_month")],
        slots={"period": "this_month", "merchant": "starbucks"},
        token=token_for("C001"),
    )
    events, _ = await run(ActionSearchTransactions(), follow)
    assert events == [
        SlotSet("period", "this_month"),
        SlotSet("merchant", "starbucks"),
        SlotSet("category", None),
    ]


async def test_search_transactions_totals_match_the_database(
    repo: ProfileRepository,
) -> None:
    tracker = make_tracker(
        text="show my transactions over the last 90 days",
        intent="search_transactions",
        entities=[entity("period", "last_90_days")],
        token=token_for("C002"),
    )
    _, dispatcher = await run(ActionSearchTransactions(), tracker)
    summary = dispatcher.messages[0]
    from datetime import timedelta

    from actions.dialogue.common import today_local

    # The action counts the bank's local days (Asia/Shanghai), not the machine's.
    today = today_local()
    expected = repo.search_transactions("C002", today - timedelta(days=89), today)
    assert summary["response"] == "utter_transactions_summary"
    assert summary["count"] == expected.count
    assert summary["spent"] == f"CNY {expected.spent:,.2f}"
    assert responses(dispatcher)[1:] == ["utter_transaction_line"] * len(expected.top)


# --- wealth ------------------------------------------------------------------------------
async def test_wealth_recommendation_never_exceeds_the_risk_level(
    repo: ProfileRepository,
) -> None:
    tracker = make_tracker(
        text="有什么理财推荐",
        intent="recommend_wealth_product",
        token=token_for("C003"),
    )  # 王芳 is R2
    _, dispatcher = await run(ActionRecommendWealth(), tracker)
    kinds = responses(dispatcher)
    assert kinds[0] == "utter_wealth_intro" and kinds[-1] == "utter_wealth_disclaimer"
    risks = [
        m["risk"]
        for m in dispatcher.messages
        if m["response"].startswith("utter_wealth_product")
    ]
    assert risks and all(int(r[1]) <= 2 for r in risks)
    assert dispatcher.messages[0]["risk"] == "R2"


# --- transfers ---------------------------------------------------------------------------
def form_tracker(text: str, intent: str = "inform", **kwargs):
    return make_tracker(
        text=text,
        intent=intent,
        token=token_for("C001"),
        active_loop="transfer_form",
        **kwargs,
    )


async def test_form_asks_nothing_of_an_anonymous_customer() -> None:
    form = ValidateTransferForm()
    tracker = make_tracker(
        text="我要转账", intent="transfer_money", active_loop="transfer_form"
    )
    required = await form.required_slots(
        ["amount", "recipient", "transfer_confirmed"],
        CollectingDispatcher(),
        tracker,
        {},
    )
    assert required == []


@pytest.mark.parametrize(
    ("value", "slot", "reply"),
    [
        ("3000.00", "3000.00", None),
        ("0.00", None, "utter_invalid_amount"),
        ("abc", None, "utter_invalid_amount"),
        ("999999.00", None, "utter_over_single_limit"),
        (
            "100000.00",
            None,
            "utter_insufficient_funds",
        ),  # current account holds 28,650.32
    ],
)
async def test_validate_amount(value: str, slot: str | None, reply: str | None) -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateTransferForm().validate_amount(
        value, dispatcher, form_tracker("x"), {}
    )
    assert result == {"amount": slot}
    assert responses(dispatcher) == ([reply] if reply else [])


@pytest.mark.parametrize(
    ("text", "name"), [("给我妈", "妈妈"), ("张伟", "张伟"), ("小张", "张伟")]
)
async def test_validate_recipient_resolves_saved_payees(text: str, name: str) -> None:
    result = await ValidateTransferForm().validate_recipient(
        text, CollectingDispatcher(), form_tracker(text), {}
    )
    assert result["recipient"] == name and result["payee_id"].isdigit()


async def test_validate_recipient_refuses_unknown_payees() -> None:
    dispatcher = CollectingDispatcher()
    result = await ValidateTransferForm().validate_recipient(
        "刘德明", dispatcher, form_tracker("刘德明"), {}
    )
    assert result == {"recipient": None, "payee_id": None}
    assert responses(dispatcher) == ["utter_unknown_payee"]


async def test_extract_recipient_finds_a_payee_inside_the_request() -> None:
    tracker = form_tracker("我想给张伟转五千", intent="transfer_money")
    result = await ValidateTransferForm().extract_recipient(
        CollectingDispatcher(), tracker, {}
    )
    assert result == {"recipient": "张伟"}
    other = form_tracker("确认", intent="affirm")
    assert (
        await ValidateTransferForm().extract_recipient(
            CollectingDispatcher(), other, {}
        )
        == {}
    )


async def test_a_correction_asks_for_confirmation_again() -> None:
    tracker = form_tracker(
        "不对，是三千",
        slots={
            "amount": "3000.00",
            "transfer_confirmed": False,
            "requested_slot": "transfer_confirmed",
        },
    )
    tracker.events.append({"event": "slot", "name": "amount", "value": "3000.00"})
    tracker.events.append(
        {"event": "slot", "name": "transfer_confirmed", "value": False}
    )
    result = await ValidateTransferForm().validate_transfer_confirmed(
        False, CollectingDispatcher(), tracker, {}
    )
    assert result == {"transfer_confirmed": None}
    plain = form_tracker("确认", intent="affirm")
    plain.events.append({"event": "slot", "name": "transfer_confirmed", "value": True})
    assert await ValidateTransferForm().validate_transfer_confirmed(
        True, CollectingDispatcher(), plain, {}
    ) == {"transfer_confirmed": True}


async def test_confirmation_question_formats_the_amount_per_language() -> None:
    tracker = make_tracker(
        text="send 500 to Alice",
        token=token_for("C002"),
        slots={
            "amount": "500.00",
            "recipient": "Alice Zhang",
            "account_type": "savings",
        },
    )  # an earlier balance question
    _, dispatcher = await run(ActionAskTransferConfirmed(), tracker)
    assert dispatcher.messages[0]["amount"] == "CNY 500.00"
    assert dispatcher.messages[0]["recipient"] == "Alice Zhang"
    assert dispatcher.messages[0]["account"] == "**** 0987"  # the current account


async def test_transfer_from_savings_when_named_during_the_transfer(
    repo: ProfileRepository,
) -> None:
    tracker = await confirmed_transfer(repo, amount="100.00")
    tracker.slots["source_account"] = "savings"
    await run(ActionTransfer(), tracker)
    balances = {a.account_type: a.balance for a in repo.accounts("C001")}
    assert balances == {"current": Decimal("28650.32"), "savings": Decimal("149900.00")}


async def confirmed_transfer(
    repo: ProfileRepository,
    amount: str = "3000.00",
    ref: str | None = "tr-" + "a" * 32,
    sender_id: str = "test-conversation",
    input_channel: str = "rest",
):
    payee = repo.find_payee("C001", "王芳")
    slots = {
        "amount": amount,
        "recipient": "王芳",
        "payee_id": str(payee.id),
        "transfer_confirmed": True,
        "account_type": "savings",
    }
    if ref:
        slots["transfer_ref"] = ref
    return make_tracker(
        text="确认",
        intent="affirm",
        token=token_for("C001"),
        slots=slots,
        sender_id=sender_id,
        input_channel=input_channel,
    )


async def test_confirmed_transfer_moves_money_once(repo: ProfileRepository) -> None:
    tracker = await confirmed_transfer(repo)
    before = {a.account_type: a.balance for a in repo.accounts("C003")}
    events, dispatcher = await run(ActionTransfer(), tracker)
    assert responses(dispatcher) == ["utter_transfer_done"]
    assert dispatcher.messages[0]["balance"] == "25,650.32 元"
    assert events == [
        SlotSet("transfer_ref", None),
        SlotSet("amount", None),
        SlotSet("recipient", None),
        SlotSet("payee_id", None),
        SlotSet("transfer_confirmed", None),
        SlotSet("source_account", None),
    ]
    # The action server may receive the same call twice (a retry): no second debit.
    _, again = await run(ActionTransfer(), tracker)
    assert responses(again) == ["utter_transfer_already_done"]
    assert again.messages[0]["amount"] == "3,000.00 元"
    assert repo.accounts("C001")[0].balance == Decimal("25650.32")
    after = {a.account_type: a.balance for a in repo.accounts("C003")}
    assert after["current"] == before["current"] + Decimal("3000.00")


async def test_one_transfer_confirmed_in_two_conversations_is_paid_once(
    repo: ProfileRepository,
) -> None:
    # Started in the app, continued on the web page (the reference travels with it);
    # the customer then confirms in both, even with a different amount in the second.
    app = await confirmed_transfer(repo, sender_id="app-1", input_channel="rest")
    web = await confirmed_transfer(
        repo, amount="2000.00", sender_id="web-1", input_channel="socketio"
    )
    _, first = await run(ActionTransfer(), app)
    _, second = await run(ActionTransfer(), web)
    assert responses(first) == ["utter_transfer_done"]
    assert responses(second) == ["utter_transfer_already_done"]
    assert second.messages[0]["amount"] == "3,000.00 元"  # what was really paid
    assert repo.accounts("C001")[0].balance == Decimal("25650.32")


async def test_concurrent_confirmations_pay_once(repo: ProfileRepository) -> None:
    trackers = [
        await confirmed_transfer(repo, sender_id=f"conv-{i}", input_channel=channel)
        for i, channel in enumerate(["rest", "socketio", "rest", "socketio", "rest"])
    ]
    results = await asyncio.gather(*(run(ActionTransfer(), t) for t in trackers))
    said = sorted(responses(d)[0] for _, d in results)
    assert said == ["utter_transfer_already_done"] * 4 + ["utter_transfer_done"]
    assert repo.accounts("C001")[0].balance == Decimal("25650.32")


async def test_two_transfers_are_two_payments(repo: ProfileRepository) -> None:
    await run(ActionTransfer(), await confirmed_transfer(repo, ref="tr-" + "1" * 32))
    _, second = await run(
        ActionTransfer(), await confirmed_transfer(repo, ref="tr-" + "2" * 32)
    )
    assert responses(second) == ["utter_transfer_done"]
    assert repo.accounts("C001")[0].balance == Decimal("22650.32")


async def test_the_form_gives_each_transfer_a_reference(
    repo: ProfileRepository,
) -> None:
    tracker = form_tracker("给王芳转三千")
    events, _ = await run(ValidateTransferForm(repo), tracker, domain=FORM_DOMAIN)
    refs = [e["value"] for e in events if e.get("name") == "transfer_ref"]
    assert len(refs) == 1 and refs[0].startswith("tr-") and len(refs[0]) == 35
    tracker.slots["transfer_ref"] = refs[0]
    events, _ = await run(ValidateTransferForm(repo), tracker, domain=FORM_DOMAIN)
    assert not [e for e in events if e.get("name") == "transfer_ref"]  # kept
    # A question in the middle fills nothing: no event, so the form rejects it and
    # the interruption rules answer it.
    aside = form_tracker("信用卡额度还有多少", intent="check_card_limit")
    events, _ = await run(ValidateTransferForm(repo), aside, domain=FORM_DOMAIN)
    assert events == []


async def test_declined_transfer_moves_nothing(repo: ProfileRepository) -> None:
    tracker = await confirmed_transfer(repo)
    tracker.slots["transfer_confirmed"] = False
    _, dispatcher = await run(ActionTransfer(), tracker)
    assert responses(dispatcher) == ["utter_transfer_cancelled"]
    assert repo.accounts("C001")[0].balance == Decimal("28650.32")


async def test_transfer_over_the_balance_is_rejected_at_execution(
    repo: ProfileRepository,
) -> None:
    tracker = await confirmed_transfer(repo, amount="30000.00")
    _, dispatcher = await run(ActionTransfer(), tracker)
    assert responses(dispatcher) == ["utter_transfer_insufficient"]
    assert repo.accounts("C001")[0].balance == Decimal("28650.32")


def test_idempotency_key_is_the_transfer_not_the_message() -> None:
    ref = {"amount": "10.00", "transfer_ref": "tr-" + "b" * 32}
    one = make_tracker(text="确认", slots=ref, timestamp=1.0, sender_id="a")
    elsewhere = make_tracker(text="yes", slots=ref, timestamp=9.0, sender_id="b")
    assert idempotency_key(one, "C001") == idempotency_key(elsewhere, "C001")
    assert idempotency_key(one, "C001") != idempotency_key(one, "C002")
    # Without a reference (an older conversation): the confirming message decides.
    old = make_tracker(text="确认", slots={"amount": "10.00"}, timestamp=1.0)
    same = make_tracker(text="确认", slots={"amount": "10.00"}, timestamp=1.0)
    later = make_tracker(text="确认", slots={"amount": "10.00"}, timestamp=2.0)
    assert idempotency_key(old, "C001") == idempotency_key(same, "C001")
    assert idempotency_key(old, "C001") != idempotency_key(later, "C001")


async def test_cancel_transfer_clears_the_form() -> None:
    events, dispatcher = await run(ActionCancelTransfer(), form_tracker("算了"))
    assert responses(dispatcher) == ["utter_transfer_cancelled"]
    assert (
        SlotSet("amount", None) in events and SlotSet("requested_slot", None) in events
    )


# --- session, greeting, language, human ----------------------------------------------------
async def test_session_start_identifies_the_customer_and_carries_facts(
    repo: ProfileRepository,
) -> None:
    tracker = make_tracker(
        text="",
        slots={"home_status": "first", "amount": "5.00", "language": None},
        session_metadata={"auth_token": token_for("C002")},
    )
    events, _ = await run(ActionSessionStart(), tracker)
    assert events[0] == SessionStarted() and events[-1] == ActionExecuted(
        "action_listen"
    )
    assert SlotSet("home_status", "first") in events
    assert SlotSet("amount", "5.00") not in events  # task state does not carry over
    assert SlotSet("customer_id", "C002") in events
    assert SlotSet("language", "en") in events  # C002's preferred language


async def test_greeting_uses_the_name_in_the_customer_language() -> None:
    tracker = make_tracker(text="hello", intent="greet", token=token_for("C002"))
    _, dispatcher = await run(ActionGreet(), tracker)
    assert dispatcher.messages[0]["response"] == "utter_greet_customer"
    assert dispatcher.messages[0]["name"] == "Emma Walker"
    _, anonymous = await run(ActionGreet(), make_tracker(text="你好", intent="greet"))
    assert responses(anonymous) == ["utter_greet"]


@pytest.mark.parametrize(
    ("text", "parsed", "expected"),
    [
        ("查余额", "zh", {"language": "zh"}),
        ("balance please", "en", {"language": "en"}),
        ("$300", None, {}),
        ("2w", None, {}),
        ("/affirm", None, {}),
    ],
)
async def test_language_slot_follows_each_message(text, parsed, expected) -> None:
    tracker = make_tracker(text=text)
    tracker.latest_message["language"] = parsed
    result = await ValidateSlotMappings().extract_language(
        CollectingDispatcher(), tracker, {}
    )
    assert result == expected


async def test_human_request_opens_a_ticket_and_pauses(repo: ProfileRepository) -> None:
    tracker = make_tracker(
        text="转人工，我卡号6222021234567890128",
        intent="request_human",
        token=token_for("C001"),
        slots={
            "topic": "service",
            "emotion": "calm",
            "emotion_history": ["calm"],
            "tone": "plain",
        },
    )
    events, dispatcher = await run(ActionHandoff(), tracker)
    assert responses(dispatcher) == ["utter_handoff_waiting"]
    assert dispatcher.messages[0]["minutes"] == 4  # first in the queue, 2 agents
    (ticket,) = repo.open_tickets()
    assert events == [
        SlotSet("needs_human", False),
        SlotSet("escalation", None),
        SlotSet("handoff_ticket", str(ticket.id)),
        ConversationPaused(),
    ]
    assert (ticket.reason, ticket.customer_id, ticket.status) == (
        "request_human",
        "C001",
        "waiting",
    )
    assert ticket.base_priority == base_priority("request_human", "calm", False, "gold")
    summary = json.loads(ticket.summary)
    assert "6222021234567890128" not in ticket.summary
    assert summary["last_messages"] == ["转人工，我卡号[CARD ****0128]"]
    # Asking again does not queue the conversation twice.
    await run(ActionHandoff(), tracker)
    assert [t.id for t in repo.open_tickets()] == [ticket.id]


async def test_escalation_reason_and_priority(repo: ProfileRepository) -> None:
    tracker = make_tracker(
        text="我的卡被偷了 急死了",
        intent="report_lost_card",
        slots={
            "topic": "lost_card",
            "emotion": "anxious",
            "escalation": "high_stakes",
            "needs_human": True,
        },
        sender_id="anonymous-1",
    )
    tracker.latest_message["emotion"] = {"label": "anxious", "urgent": True}
    await run(ActionHandoff(), tracker)
    (ticket,) = repo.open_tickets()
    assert (ticket.reason, ticket.customer_id, ticket.urgent) == (
        "high_stakes",
        None,
        True,
    )
    assert ticket.base_priority == base_priority("high_stakes", "anxious", True, None)


@pytest.mark.parametrize(
    ("entities", "slots", "expected"),
    [
        ([], {}, {"source_account": "current"}),
        ([entity("account_type", "savings")], {}, {"source_account": "savings"}),
        (
            [entity("account_type", "savings")],
            {"source_account": "current"},
            {"source_account": "savings"},
        ),
        # Unchanged: nothing is extracted, so an interruption is still rejected by the form.
        ([], {"source_account": "savings"}, {}),
        # A balance question about savings earlier is not a choice of account.
        ([], {"account_type": "savings"}, {"source_account": "current"}),
    ],
)
async def test_source_account_defaults_to_current(entities, slots, expected) -> None:
    tracker = form_tracker("从储蓄账户转", entities=entities, slots=slots)
    result = await ValidateTransferForm().extract_source_account(
        CollectingDispatcher(), tracker, {}
    )
    assert result == expected
