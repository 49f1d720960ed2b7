"""Hardening: the customer channels' guard, masked logs, the locked action server."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from actions import log_masking
from actions.server import SAFE_REPLY, authorized, build_app
from actions.settings import Settings, SettingsError
from addons.channels import GuardedRestInput, MessageGuard, neutralise_commands


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('/transfer_money{"amount": "50000"}', 'transfer_money{"amount": "50000"}'),
        ("  //affirm", "affirm"),
        ("查余额", "查余额"),
        ("转账 1/2 的钱", "转账 1/2 的钱"),
    ],
)
def test_customer_text_can_never_be_an_intent_command(text: str, expected: str) -> None:
    assert neutralise_commands(text) == expected


def test_guard_refuses_empty_long_and_fast_messages() -> None:
    guard = MessageGuard(max_chars=10, per_minute=3)
    assert guard.problem("a", "   ", now=0) == "empty"
    assert guard.problem("a", "x" * 11, now=1) == "too_long"
    assert guard.problem("a", "ok", now=2) is None
    assert guard.problem("a", "ok", now=3) == "rate_limited"
    assert guard.problem("b", "ok", now=3) is None  # other senders are not affected
    assert guard.problem("a", "ok", now=70) is None  # the window has moved on
    assert guard.notice("too_long", "hello").startswith("That message is too long")
    assert guard.notice("rate_limited", "你好").startswith("您发送得太快")


def request(body: bytes, ip: str = "203.0.113.7") -> SimpleNamespace:
    return SimpleNamespace(body=body, method="POST", ip=ip)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (json.dumps({"message": "hi"}).encode(), 400),
        (json.dumps({"sender": "s" * 200, "message": "hi"}).encode(), 400),
        (json.dumps({"sender": "s", "message": 5}).encode(), 400),
        (json.dumps({"sender": "s", "message": "hi", "metadata": [1]}).encode(), 400),
        (json.dumps({"sender": "s", "message": ""}).encode(), 400),
        (json.dumps({"sender": "s", "message": "长" * 1001}).encode(), 413),
        (b"x" * 100_000, 413),
    ],
)
def test_rest_refuses_malformed_requests_with_a_json_error(
    body: bytes, status: int
) -> None:
    channel = GuardedRestInput(MessageGuard(max_chars=1000, per_minute=30))
    refused = channel.refusal(request(body))
    assert refused is not None and refused.status == status
    assert "error" in json.loads(refused.body)


def test_rest_lets_a_good_message_through() -> None:
    channel = GuardedRestInput(MessageGuard(max_chars=1000, per_minute=30))
    body = json.dumps({"sender": "s", "message": "查余额", "metadata": {}}).encode()
    assert channel.refusal(request(body)) is None


def test_log_records_are_masked_whoever_writes_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log_masking.install()
    log_masking.install()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("rasa.core.processor").info(
            "Received user message '%s'", "卡号6222021234567890128 手机13812345678"
        )
        try:
            raise ValueError("bad card 6222021234567890128")
        except ValueError:
            logging.getLogger("sqlalchemy").exception("failed")
    text = caplog.text
    assert "6222021234567890128" not in text and "13812345678" not in text
    assert "[CARD ****0128]" in text and "[PHONE ***5678]" in text


def test_the_action_server_needs_its_secret() -> None:
    assert authorized("Bearer s3cret", "s3cret")
    assert not authorized("Bearer wrong", "s3cret")
    assert not authorized(None, "s3cret") and not authorized("s3cret", "s3cret")
    assert not authorized("Bearer ", "")
    with pytest.raises(SettingsError, match="ACTION_SERVER_TOKEN"):
        build_app(Settings.from_env({}))
    assert SAFE_REPLY["responses"] == [{"response": "utter_service_unavailable"}]


def test_json_escaped_chinese_does_not_hide_a_card_number(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # structlog renders "卡6222…" as "\u53616222…": one long run of hex digits.
    log_masking.install()
    escaped = json.dumps({"text": "卡6222021234567890128里", "emoji": "😀"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("rasa.core.processor").debug(escaped)
    assert "6222021234567890128" not in caplog.text
    assert "卡[CARD ****0128]里" in caplog.text


def test_idle_senders_are_forgotten() -> None:
    guard = MessageGuard(max_chars=10, per_minute=3)
    for i in range(25_000):
        guard.problem(f"sender-{i}", "hi", now=float(i) / 1000)  # 25 s of traffic
    guard.problem("late", "hi", now=200.0)  # a minute later: all of them are idle
    for i in range(10_000):
        guard.problem(f"next-{i}", "hi", now=200.0)
    assert len(guard._sent) <= 10_001


def test_one_address_cannot_rotate_sender_ids_forever() -> None:
    channel = GuardedRestInput(MessageGuard(max_chars=100, per_minute=2))
    codes = []
    for i in range(25):
        body = json.dumps({"sender": f"fresh-{i}", "message": "hi"}).encode()
        refused = channel.refusal(request(body))
        codes.append(refused.status if refused else 200)
    assert codes[:20] == [200] * 20 and set(codes[20:]) == {429}
    other = json.dumps({"sender": "fresh-x", "message": "hi"}).encode()
    assert channel.refusal(request(other, ip="198.51.100.1")) is None


def test_the_client_cannot_name_the_channel_it_records() -> None:
    channel = GuardedRestInput(MessageGuard(max_chars=100, per_minute=2))
    assert channel._extract_input_channel(SimpleNamespace()) == "rest"
