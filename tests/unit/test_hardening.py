"""Hardening: masked logs and the locked action server (channels: test_channel_guard)."""

from __future__ import annotations

import json
import logging

import pytest

from actions import log_masking
from actions.server import SAFE_REPLY, authorized, build_app
from actions.settings import Settings, SettingsError


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
