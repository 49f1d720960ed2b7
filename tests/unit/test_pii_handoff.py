import pytest

from actions.handoff import (
    AGING_CAP,
    base_priority,
    effective_priority,
    expected_wait_minutes,
    summarize,
)
from actions.pii import find_pii, id_number_ok, luhn_ok, mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我卡号是6222021234567890128，查下余额", "我卡号是[CARD ****0128]，查下余额"),
        ("卡号 6222 0212 3456 7890 128", "卡号 [CARD ****0128]"),
        ("card 4111-1111-1111-1111 please", "card [CARD ****1111] please"),
        ("身份证11010519491231002X", "身份证[ID]"),
        ("my ID is 110105194912310021", "my ID is [ACCOUNT ****0021]"),  # bad checksum
        ("手机13812345678", "手机[PHONE ***5678]"),
        ("call +86 138-1234-5678", "call [PHONE ***5678]"),
        ("email me at a.b@example.com", "email me at [EMAIL]"),
        ("账号 6217001234567890123", "账号 [ACCOUNT ****0123]"),
        # not personal data: amounts, dates, order numbers, short codes
        ("转账5000元", "转账5000元"),
        ("金额 1000000", "金额 1000000"),
        ("2026年11月25日", "2026年11月25日"),
        ("订单号20261125001", "订单号20261125001"),
        ("验证码 123456", "验证码 123456"),
        ("", ""),
    ],
)
def test_mask_pii(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert id_number_ok("11010519491231002X") and not id_number_ok("110105194912310021")
    assert [m.kind for m in find_pii("13812345678 and 6222021234567890128")] == [
        "phone",
        "card",
    ]


@pytest.mark.parametrize(
    ("args", "points"),
    [
        (("request_human", "calm", False, "standard"), 10),
        (("request_human", "calm", False, "private"), 30),
        (("complaint", "angry", False, "gold"), 50),
        (("angry_complaint", "angry", False, None), 55),
        (("high_stakes", "anxious", True, "standard"), 80),
        (("repeated_distress", "anxious", False, "gold"), 65),
        (("request_human", None, False, None), 10),
    ],
)
def test_base_priority(args, points: int) -> None:
    assert base_priority(*args) == points


def test_priority_orders_the_queue_as_a_bank_would() -> None:
    frightened = base_priority("high_stakes", "anxious", True, "standard")
    angry_vip = base_priority("angry_complaint", "angry", False, "private")
    calm_request = base_priority("request_human", "calm", False, "gold")
    assert frightened > angry_vip > calm_request
    assert base_priority("request_human", "calm", has_risk_alert=True) > frightened
    # A calm customer who has waited long enough overtakes a newer, slightly higher one.
    assert effective_priority(calm_request, 30 * 60) > effective_priority(
        calm_request + 20, 0
    )
    assert effective_priority(0, 10 * 3600) == AGING_CAP


@pytest.mark.parametrize(
    ("position", "agents", "minutes"),
    [(1, 2, 4), (2, 2, 4), (3, 2, 8), (5, 1, 20), (1, 0, 4)],
)
def test_expected_wait(position: int, agents: int, minutes: int) -> None:
    assert expected_wait_minutes(position, agents) == minutes


def test_summary_has_what_the_agent_needs_and_no_raw_numbers() -> None:
    events = [
        {
            "event": "user",
            "text": "给张伟转五千",
            "parse_data": {"intent": {"name": "transfer_money"}},
        },
        {"event": "bot", "text": "请确认"},
        {
            "event": "user",
            "text": "我手机13812345678收不到验证码",
            "parse_data": {"intent": {"name": "inform"}},
        },
    ]
    slots = {
        "topic": "transfer",
        "amount": "5000.00",
        "recipient": "张伟",
        "emotion": "anxious",
        "emotion_history": ["calm", "anxious"],
        "language": "zh",
    }
    summary = summarize(events, slots, "repeated_distress")
    assert summary["intents"] == ["transfer_money", "inform"]
    assert summary["facts"] == {
        "topic": "transfer",
        "amount": "5000.00",
        "recipient": "张伟",
    }
    assert summary["emotions"] == ["calm", "anxious"]
    assert summary["last_messages"][-1] == "我手机[PHONE ***5678]收不到验证码"
    assert "13812345678" not in summary["text"] and "anxious" in summary["text"]
