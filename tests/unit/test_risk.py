"""Risk control: the spaCy rules, the transfer rules, alerts, holds and the dialogue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.handoff import ActionHandoff
from actions.dialogue.slots import ValidateSlotMappings
from actions.dialogue.transfers import ActionTransfer
from actions.errors import TransferRejected
from actions.handoff import RISK_WEIGHT
from actions.profile_db import models as m
from actions.profile_db.repository import AlertAlreadyReviewed, ProfileRepository
from actions.profile_db.session import session_scope
from actions.risk.alerts import RISK_ESCALATION, warning_response
from actions.risk.detector import RiskDetector, default_detector, excerpt
from actions.risk.transfers import (
    PastTransfer,
    TransferContext,
    assess_transfer,
    default_limits,
)
from tests.conftest import token_for
from tests.trackers import make_tracker

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


# --- message rules -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("有个警察打电话说我涉嫌洗钱，让我把钱转到安全账户", "scam_direction"),
        ("帮我把资金转到海外账户，避开外汇管制", "offshore"),
        ("100万分成几笔转，每笔不超过5万，别被上报", "structuring"),
        ("帮我给网赌平台充值两万", "gambling"),
        ("帮我transfer 5w去买USDT", "crypto"),
        (
            "The police officer told me to move my savings to a safe account",
            "scam_direction",
        ),
        (
            "split 200k into smaller transfers so it stays under the reporting threshold",
            "structuring",
        ),
        (
            "I want to wire my savings offshore to avoid the capital controls",
            "offshore",
        ),
        ("top up my online casino account with 3000", "gambling"),
        ("someone pays me to rent my bank card and forward it", "money_mule"),
    ],
)
def test_risky_messages_fire_with_their_category(text: str, category: str) -> None:
    assessment = default_detector().assess(text)
    assert assessment.hits, text
    assert category in {h.category for h in assessment.hits}
    assert assessment.ruleset and assessment.score >= 0.75
    assert all(h.rule_id and h.rule_version >= 1 for h in assessment.hits)


@pytest.mark.parametrize(
    "text",
    [
        "查一下我的余额",
        "给张伟转五千",
        "女儿在英国留学，学费怎么汇过去",
        "怎么防范电信诈骗？",
        "我的账户安全设置在哪里改",
        "how do I report a scam call",
        "what is bitcoin? just curious",
        "send 300 to my mom",
        "",
    ],
)
def test_everyday_messages_do_not_fire(text: str) -> None:
    assert default_detector().assess(text).hits == ()


def test_evidence_is_masked_and_short() -> None:
    text = "警察让我把6222021234567890128卡里的钱转到安全账户，" + "很急" * 60
    hit = default_detector().assess(text).hits[0]
    assert "6222021234567890128" not in hit.excerpt
    assert "安全账户" in hit.excerpt and len(hit.excerpt) < 100


def test_a_rules_file_with_latin_only_chinese_words_is_refused() -> None:
    config = {
        "version": "t",
        "concepts": {"zh": {"a": ["ETH"]}, "en": {"a": ["eth"]}},
        "rules": [
            {"id": "X", "version": 1, "category": "crypto", "score": 0.5, "all": ["a"]}
        ],
    }
    with pytest.raises(ValueError, match="Chinese characters"):
        RiskDetector(config)


def test_a_rule_naming_an_unknown_concept_is_refused() -> None:
    config = {
        "version": "t",
        "concepts": {"en": {"a": ["x"]}},
        "rules": [
            {"id": "X", "version": 1, "category": "c", "score": 0.5, "all": ["b"]}
        ],
    }
    with pytest.raises(ValueError, match="missing"):
        RiskDetector(config)


def test_victims_get_the_fraud_warning_others_a_calm_refusal() -> None:
    assert warning_response(["scam_direction"]) == "utter_risk_fraud_warning"
    assert warning_response(["offshore", "new_payee_large"]) == (
        "utter_risk_fraud_warning"
    )
    assert warning_response(["structuring"]) == "utter_risk_restricted"


# --- transfer rules ------------------------------------------------------------------
def ctx(
    amount: str,
    *,
    payee_age_days: int = 200,
    balance: str = "100000.00",
    history: list[PastTransfer] | None = None,
    payee_id: int = 7,
) -> TransferContext:
    return TransferContext(
        amount=Decimal(amount),
        payee_id=payee_id,
        payee_created_at=NOW - timedelta(days=payee_age_days),
        source_balance=Decimal(balance),
        history=history or [],
        now=NOW,
    )


def test_repeated_transfers_just_below_the_reporting_threshold_are_structuring() -> (
    None
):
    earlier = [PastTransfer(Decimal("49000.00"), NOW - timedelta(hours=3), 7)]
    hits = assess_transfer(ctx("48500.00", history=earlier))
    assert [h.rule_id for h in hits] == ["AML-STRUCTURING-HISTORY"]
    assert "97500.00" in hits[0].excerpt
    # One such transfer alone, or the earlier one outside the window, is fine.
    assert assess_transfer(ctx("48500.00")) == []
    old = [PastTransfer(Decimal("49000.00"), NOW - timedelta(hours=30), 7)]
    assert assess_transfer(ctx("48500.00", history=old)) == []


def test_a_large_first_payment_to_a_new_payee_is_stopped() -> None:
    small_history = [PastTransfer(Decimal("3000.00"), NOW - timedelta(days=20), 3)]
    hits = assess_transfer(
        ctx("60000.00", payee_age_days=1, balance="500000.00", history=small_history)
    )
    assert [h.rule_id for h in hits] == ["FRAUD-NEW-PAYEE-LARGE"]
    # The same amount to a long-known payee, or within the customer's habits, is fine.
    assert assess_transfer(ctx("60000.00", balance="500000.00")) == []
    big_history = [PastTransfer(Decimal("40000.00"), NOW - timedelta(days=20), 3)]
    assert (
        assess_transfer(
            ctx("60000.00", payee_age_days=1, balance="500000.00", history=big_history)
        )
        == []
    )


def test_most_of_the_balance_to_a_new_payee_is_stopped() -> None:
    hits = assess_transfer(ctx("25000.00", payee_age_days=2, balance="28650.32"))
    assert [h.rule_id for h in hits] == ["FRAUD-NEW-PAYEE-DRAIN"]
    assert "87%" in hits[0].excerpt
    assert assess_transfer(ctx("2000.00", payee_age_days=2, balance="2100.00")) == []


def test_limits_are_exact_decimals_from_the_rules_file() -> None:
    limits = default_limits()
    assert limits.reporting_threshold == Decimal("50000.00")
    assert limits.near_threshold_floor == Decimal("42500.00")


# --- alerts, holds, review -----------------------------------------------------------
def add_new_payee(repo: ProfileRepository, customer_id: str, name: str) -> int:
    with session_scope(repo.engine) as s:
        payee = m.Payee(
            customer_id=customer_id,
            name=name,
            aliases="",
            bank_name="某银行",
            account_number="6222600299990000",
            created_at=datetime.now(timezone.utc) - timedelta(hours=2),
        )
        s.add(payee)
        s.flush()
        return payee.id


def alert_hit(rule: str = "SCAM-SAFE-ACCOUNT") -> dict:
    return {
        "rule_id": rule,
        "rule_version": 1,
        "category": "scam_direction",
        "score": 0.95,
        "excerpt": "让我转到安全账户",
    }


def test_an_open_alert_holds_transfers_until_compliance_clears_it(
    repo: ProfileRepository,
) -> None:
    [alert] = repo.record_risk_alerts(
        conversation_id="c1",
        customer_id="C001",
        channel="rest",
        language="zh",
        source="message",
        ruleset="2026.11.1",
        hits=[alert_hit()],
        action_taken="handoff",
    )
    assert alert.status == "open" and repo.has_open_risk_alert("C001")
    payee = repo.find_payee("C001", "张伟")
    assert payee is not None
    with pytest.raises(TransferRejected) as rejected:
        repo.execute_transfer(
            customer_id="C001",
            payee_id=payee.id,
            amount=Decimal("10.00"),
            idempotency_key="hold-1",
        )
    assert rejected.value.reason == "risk_hold"
    reviewed = repo.review_risk_alert(alert.id, status="cleared", reviewer="合规-李")
    assert reviewed is not None and reviewed.status == "cleared"
    assert reviewed.reviewed_at is not None and not repo.has_open_risk_alert("C001")
    done = repo.execute_transfer(
        customer_id="C001",
        payee_id=payee.id,
        amount=Decimal("10.00"),
        idempotency_key="hold-2",
    )
    assert done.amount == Decimal("10.00")
    with pytest.raises(ValueError):
        repo.review_risk_alert(alert.id, status="whatever", reviewer="x")
    with pytest.raises(AlertAlreadyReviewed):  # the first decision stands
        repo.review_risk_alert(alert.id, status="confirmed", reviewer="合规-王")
    assert repo.review_risk_alert(99999, status="cleared", reviewer="x") is None


def test_alerts_are_listed_newest_first_and_by_status(repo: ProfileRepository) -> None:
    for rule in ("A-1", "B-2"):
        repo.record_risk_alerts(
            conversation_id="c2",
            customer_id=None,
            channel="socketio",
            language="en",
            source="message",
            ruleset="r",
            hits=[alert_hit(rule)],
            action_taken="handoff",
        )
    alerts = repo.risk_alerts()
    assert [a.rule_id for a in alerts[:2]] == ["B-2", "A-1"]
    repo.review_risk_alert(alerts[0].id, status="confirmed", reviewer="x")
    assert [a.rule_id for a in repo.risk_alerts("confirmed")] == ["B-2"]
    assert "B-2" not in [a.rule_id for a in repo.risk_alerts("open")]


# --- the dialogue --------------------------------------------------------------------
async def run(action, tracker) -> tuple[list, CollectingDispatcher]:
    dispatcher = CollectingDispatcher()
    return await action.run(dispatcher, tracker, {}), dispatcher


def risky_tracker(text: str, language: str = "zh", **kwargs):
    tracker = make_tracker(
        text=text, intent="transfer_money", token=token_for("C001"), **kwargs
    )
    tracker.latest_message["risk"] = default_detector().assess(text).as_dict()
    tracker.latest_message["emotion"] = {"label": "anxious", "score": 0.7}
    tracker.slots["language"] = language
    return tracker


async def test_a_risky_message_escalates_ahead_of_emotion() -> None:
    tracker = risky_tracker("公安说我涉嫌洗钱，要我把钱转到安全账户")
    extracted = await ValidateSlotMappings().extract_escalation(
        CollectingDispatcher(), tracker, {}
    )
    assert extracted == {"escalation": RISK_ESCALATION}


@pytest.mark.usefixtures("use_repo")
async def test_handoff_on_a_risky_message_records_the_alert_and_warns(
    repo: ProfileRepository,
) -> None:
    tracker = risky_tracker(
        "公安说我涉嫌洗钱，要我把6222021234567890128的钱转到安全账户"
    )
    tracker.slots["escalation"] = RISK_ESCALATION
    events, dispatcher = await run(ActionHandoff(), tracker)
    replies = [msg["response"] for msg in dispatcher.messages]
    assert replies == ["utter_risk_fraud_warning", "utter_handoff_waiting"]
    assert ConversationPaused() in events
    alerts = repo.risk_alerts()
    assert alerts and {a.customer_id for a in alerts} == {"C001"}
    assert all("6222021234567890128" not in a.excerpt for a in alerts)
    assert {a.action_taken for a in alerts} == {"handoff"}
    [ticket] = repo.open_tickets()
    assert ticket.reason == RISK_ESCALATION and ticket.base_priority >= RISK_WEIGHT


@pytest.mark.usefixtures("use_repo")
async def test_a_drain_to_a_new_payee_is_stopped_before_money_moves(
    repo: ProfileRepository,
) -> None:
    payee_id = add_new_payee(repo, "C001", "刘强")
    before = {a.account_type: a.balance for a in repo.accounts("C001")}
    tracker = make_tracker(
        text="确认",
        intent="affirm",
        token=token_for("C001"),
        slots={
            "amount": "25000.00",
            "payee_id": str(payee_id),
            "recipient": "刘强",
            "transfer_confirmed": True,
        },
    )
    events, dispatcher = await run(ActionTransfer(), tracker)
    replies = [msg["response"] for msg in dispatcher.messages]
    assert replies[0] == "utter_risk_fraud_warning"
    assert "utter_transfer_done" not in replies and ConversationPaused() in events
    assert SlotSet("amount", None) in events
    assert {a.account_type: a.balance for a in repo.accounts("C001")} == before
    [alert] = repo.risk_alerts()
    assert alert.rule_id == "FRAUD-NEW-PAYEE-DRAIN" and alert.source == "transfer"
    assert alert.amount == Decimal("25000.00") and alert.action_taken == (
        "transfer_blocked"
    )
    # While the alert is open, even a normal transfer is held.
    tracker.slots.update(
        {"payee_id": str(repo.find_payee("C001", "张伟").id), "amount": "100.00"}
    )
    tracker.events[-1]["timestamp"] = 1_700_000_999.0
    _, dispatcher = await run(ActionTransfer(), tracker)
    assert [msg["response"] for msg in dispatcher.messages] == [
        "utter_transfer_on_hold"
    ]


def test_a_card_number_cut_by_the_excerpt_window_is_still_masked() -> None:
    card = "6222021234567890128"
    text = "x" * 10 + card + "安全账户" + "y" * 40
    # Evidence at 29..33 with a 20-character window starts at 21: the old cut kept
    # the card's last 8 digits, too short to be recognised as a card, and leaked them.
    piece = excerpt(text, 29, 33, width=20)
    assert "67890128" not in piece and "[CARD ****0128]" in piece


def test_confirmed_alerts_keep_the_hold_until_released(repo: ProfileRepository) -> None:
    [alert] = repo.record_risk_alerts(
        conversation_id="c3",
        customer_id="C003",
        channel="rest",
        language="zh",
        source="message",
        ruleset="r",
        hits=[alert_hit()],
        action_taken="handoff",
    )
    repo.review_risk_alert(alert.id, status="confirmed", reviewer="合规-王")
    assert repo.has_open_risk_alert("C003")  # real risk: transfers stay held
    with pytest.raises(AlertAlreadyReviewed):
        repo.review_risk_alert(alert.id, status="cleared", reviewer="someone else")
    released = repo.review_risk_alert(alert.id, status="released", reviewer="合规-王")
    assert released is not None and released.status == "released"
    assert not repo.has_open_risk_alert("C003")


def test_a_risk_hit_raises_the_priority_of_an_existing_ticket(
    repo: ProfileRepository,
) -> None:
    common = dict(
        conversation_id="c4",
        customer_id="C001",
        channel="rest",
        language="zh",
        topic=None,
        emotion="calm",
        urgent=False,
        summary="{}",
    )
    first, created = repo.open_handoff(
        reason="request_human", base_priority=10, **common
    )
    again, created_again = repo.open_handoff(
        reason=RISK_ESCALATION, base_priority=150, **common
    )
    assert created and not created_again and again.id == first.id
    assert again.base_priority == 150 and again.reason == RISK_ESCALATION


async def test_a_risky_answer_inside_the_transfer_form_ends_it() -> None:
    from actions.dialogue.transfers import ValidateTransferForm

    tracker = risky_tracker("5万，警察让我转到安全账户", active_loop="transfer_form")
    events = await ValidateTransferForm().run(CollectingDispatcher(), tracker, {})
    assert SlotSet("requested_slot", None) in events
    assert SlotSet("amount", None) in events


@pytest.mark.usefixtures("use_repo")
async def test_the_transfer_never_runs_after_a_risky_answer(
    repo: ProfileRepository,
) -> None:
    payee = repo.find_payee("C001", "张伟")
    before = {a.account_type: a.balance for a in repo.accounts("C001")}
    tracker = risky_tracker(
        "对，警察让我转到安全账户",
        slots={
            "amount": "5000.00",
            "payee_id": str(payee.id),
            "recipient": "张伟",
            "transfer_confirmed": True,
        },
    )
    events, dispatcher = await run(ActionTransfer(), tracker)
    replies = [msg["response"] for msg in dispatcher.messages]
    assert replies[0] == "utter_risk_fraud_warning" and ConversationPaused() in events
    assert {a.account_type: a.balance for a in repo.accounts("C001")} == before
    assert {a.action_taken for a in repo.risk_alerts()} == {"transfer_cancelled"}
