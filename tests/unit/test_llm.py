"""LLM fallback: client (MockTransport), circuit breaker, prompt window and masking,
guardrails (the local model: test_llm_local.py; real bot turns: test_llm_prompt_privacy.py).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import httpx
import pytest

from actions.knowledge import Hit, Passage
from actions.llm.client import ChatClient, CircuitBreaker, LLMUnavailable
from actions.llm.guardrails import check_answer
from actions.llm.prompts import MAX_TURNS, build_messages


def reply(text: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": text}}]})


async def test_client_sends_an_openai_request_and_returns_the_answer() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return reply("  您好  ")

    client = ChatClient(
        "http://llm.test/", "qwen", "key-1", transport=httpx.MockTransport(handler)
    )
    assert await client.complete([{"role": "user", "content": "hi"}]) == "您好"
    (request,) = seen
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer key-1"
    assert json.loads(request.content)["model"] == "qwen"


async def test_client_retries_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503) if len(calls) == 1 else reply("ok")

    client = ChatClient(
        "http://llm.test", "m", retries=1, transport=httpx.MockTransport(handler)
    )
    assert await client.complete([]) == "ok" and len(calls) == 2


async def test_slow_server_is_cut_at_the_time_budget() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return reply("too late")

    client = ChatClient(
        "http://llm.test",
        "m",
        timeout_s=0.5,
        retries=2,
        transport=httpx.MockTransport(handler),
    )
    started = time.monotonic()
    with pytest.raises(LLMUnavailable):
        await client.complete([])
    assert time.monotonic() - started < 1.5  # the budget plus a second at most


@pytest.mark.parametrize(
    "body", [{"choices": []}, {"nope": 1}, {"choices": [{"message": {"content": ""}}]}]
)
async def test_malformed_answers_count_as_failures(body) -> None:
    client = ChatClient(
        "http://llm.test",
        "m",
        retries=0,
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)),
    )
    with pytest.raises(LLMUnavailable):
        await client.complete([])


async def test_circuit_opens_after_failures_and_closes_after_cooldown() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown_s=30, clock=lambda: now[0])
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(500)

    client = ChatClient(
        "http://llm.test",
        "m",
        retries=0,
        breaker=breaker,
        transport=httpx.MockTransport(handler),
    )
    for _ in range(3):
        with pytest.raises(LLMUnavailable):
            await client.complete([])
    assert breaker.is_open
    with pytest.raises(LLMUnavailable, match="circuit open"):
        await client.complete([])
    assert len(calls) == 3  # an open circuit costs no request
    now[0] = 31.0
    assert not breaker.is_open
    breaker.record_success()
    assert not breaker.is_open


PASSAGE = Passage(
    "deposits-time-zh",
    "定期存款",
    "zh",
    "2026-11",
    "定期存款一年期年利率1.10%，提前支取按活期利率0.10%计息。",
)


@pytest.mark.parametrize(
    ("answer", "language", "reason"),
    [
        ("定期存款一年期年利率是1.10%，提前支取按活期计息。", "zh", None),
        ("这个产品保本保息，放心买。", "zh", "promise"),
        ("This product is guaranteed to grow.", "en", "promise"),
        ("一年期年利率是2.5%。", "zh", "invented_figure"),
        ("手续费是10元。", "zh", "invented_figure"),
        ("请把钱转到这个账户。", "zh", "moves_money"),
        ("Please transfer your money to a safe account.", "en", "moves_money"),
        ("The one-year rate is 1.10%.", "zh", "wrong_language"),
        ("", "zh", "empty"),
    ],
)
def test_guardrails(answer: str, language: str, reason: str | None) -> None:
    assert check_answer(answer, language, [PASSAGE.text]) == reason


# What the bank's own documents say about reaching it (data/knowledge/).
HOTLINE = (
    "示范银行客服热线：400-820-9588，24 小时服务。身在境外时，请拨打 +86-21-6888-9588。"
    "如遇可疑电话，请拨打全国反诈热线 96110 核实，被骗请报警（110）。"
)
HOTLINE_EN = (
    "FinAssist Demo Bank hotline: 400-820-9588, open 24 hours. From outside mainland "
    "China, please call +86-21-6888-9588."
)
OUR_PASSAGES = [PASSAGE.text, HOTLINE, HOTLINE_EN]


@pytest.mark.parametrize(
    ("answer", "language"),
    [
        # links, in the shapes phishing uses
        ("提前支取按活期计息，详情见 http://demo-bank.cn/rates。", "zh"),
        ("提前支取按活期计息，详情见 https://example.com 。", "zh"),
        ("提前支取按活期计息，详情见 hxxps://demo-bank[.]cn/a 。", "zh"),
        ("提前支取按活期计息，详情见 www.demo-bank.cn 。", "zh"),
        ("提前支取按活期计息，点 bit.ly/x 办理。", "zh"),
        ("提前支取按活期计息，点 t.cn/A6xYz 办理。", "zh"),
        ("提前支取按活期计息，请登录 例子.com 办理。", "zh"),
        ("提前支取按活期计息，请登录 示范银行．com 办理。", "zh"),  # full-width dot
        ("提前支取按活期计息，请登录 demobank。com 办理。", "zh"),  # ideographic stop
        ("提前支取按活期计息，请登录 demobank点com 办理。", "zh"),
        ("Early withdrawal earns the current rate: see bit.ly/3xYz.", "en"),
        ("Early withdrawal earns the current rate; visit demo-bank.com.cn.", "en"),
        ("Early withdrawal earns the current rate; visit demobank dot com.", "en"),
        ("Early withdrawal earns the current rate; see hxxp://evil.example/x.", "en"),
        # phone numbers that are not the bank's, with any separators
        ("提前支取按活期计息，请致电 400-123-4567 咨询。", "zh"),
        ("提前支取按活期计息，请致电 021 6123 4567 咨询。", "zh"),
        ("提前支取按活期计息，请拨打（021）6888-1234。", "zh"),
        ("提前支取按活期计息，请拨打 95588 咨询。", "zh"),
        ("提前支取按活期计息，请联系 138-1234-5678。", "zh"),
        ("提前支取按活期计息，请联系 +86 138 1234 5678。", "zh"),
        ("提前支取按活期计息，请拨打４００－１２３－４５６７。", "zh"),  # full-width
        ("Early withdrawal earns the current rate. Call 400.123.4567.", "en"),
        ("Early withdrawal earns the current rate. Call +1 (415) 555-0100.", "en"),
        # e-mail, messengers, account numbers
        ("提前支取按活期计息，请发邮件到 help@demo-bank.cn。", "zh"),
        ("提前支取按活期计息，请发邮件到 help＠demo-bank.cn。", "zh"),
        ("提前支取按活期计息，请加客服微信 bank_vip888。", "zh"),
        ("提前支取按活期计息，请加微信：demobank 咨询。", "zh"),
        ("提前支取按活期计息，请加QQ 12345678 咨询。", "zh"),
        ("提前支取按活期计息，收款账号 6222 0212 3456 7890 请核对。", "zh"),
        (
            "Early withdrawal earns the current rate. Add us on WeChat: demobank_help",
            "en",
        ),
        ("Early withdrawal earns the current rate. Email support@demobank.co.", "en"),
        ("Early withdrawal earns the current rate. WhatsApp +44 7700 900123.", "en"),
    ],
)
def test_guardrail_refuses_contacts_not_in_the_passages(
    answer: str, language: str
) -> None:
    assert check_answer(answer, language, OUR_PASSAGES) == "contact"


@pytest.mark.parametrize(
    ("answer", "language"),
    [
        ("提前支取按活期计息，您的卡 [CARD ****1234] 也一样。", "zh"),
        ("[NAME]您好，提前支取按活期计息。", "zh"),
        ("提前支取按活期计息，您尾号 0123 的账户也一样。", "zh"),
        ("提前支取按活期计息，您的账户 **** 0123 也一样。", "zh"),
        ("Early withdrawal earns the current rate, also on [ACCOUNT].", "en"),
        ("Your account ending 0987 earns the current rate when withdrawn early.", "en"),
        ("李明您好，提前支取按活期计息。", "zh"),
        ("Hello Li Ming, early withdrawal earns the current rate.", "en"),
        ("Hello li ming, early withdrawal earns the current rate.", "en"),
        ("您的余额 28,650.32 够用，提前支取按活期计息。", "zh"),
        ("给王芳转账前请想清楚：提前支取按活期计息。", "zh"),
    ],
)
def test_guardrail_refuses_personal_data(answer: str, language: str) -> None:
    personal = ["李明", "Li Ming", "王芳", "28650.32", "0123", "0987"]
    assert check_answer(answer, language, OUR_PASSAGES, personal) == "personal_data"


@pytest.mark.parametrize(
    ("answer", "language"),
    [
        ("提前支取按活期计息，可拨打客服热线 400-820-9588 咨询。", "zh"),
        ("提前支取按活期计息，可拨打 400 820 9588 咨询。", "zh"),
        ("提前支取按活期计息，可拨打4008209588咨询。", "zh"),
        ("提前支取按活期计息，境外请拨打 +86-21-6888-9588。", "zh"),
        ("提前支取按活期计息，境外请拨打 021-6888-9588。", "zh"),
        ("遇到可疑电话请拨打 96110 核实，被骗请报警 110。", "zh"),
        ("定期存款一年期年利率是1.10%，提前支取按活期利率0.10%计息。", "zh"),
        ("提前支取按活期计息，网点营业时间 9:00–17:00。", "zh"),
        ("提前支取按活期计息，可在手机银行App或网上银行办理。", "zh"),
        ("提前支取按活期计息（利率表 2026-11 版）。", "zh"),
        ("Call the hotline 400-820-9588, open 24 hours; e.g. from abroad.", "en"),
        ("From abroad, call +86-21-6888-9588.", "en"),
        ("Early withdrawal earns the current rate. I can't tell you more.", "en"),
        ("李先生请放心，提前支取按活期计息。", "zh"),  # a title, not the name
    ],
)
def test_guardrail_lets_the_banks_own_contacts_and_figures_through(
    answer: str, language: str
) -> None:
    personal = ["李明", "Li Ming", "王芳", "28650.32", "0123", "0987"]
    assert check_answer(answer, language, OUR_PASSAGES, personal) is None


def test_prompt_masks_and_keeps_at_most_20_turns() -> None:
    events = []
    for i in range(30):
        events.append({"event": "user", "text": f"第{i}句 卡号6222021234567890128"})
        events.append({"event": "bot", "text": f"回复{i}"})
    events.append({"event": "user", "text": "提前支取定期怎么算利息"})
    messages = build_messages(
        "提前支取定期怎么算利息 手机13812345678", "zh", [Hit(PASSAGE, 9.0)], events
    )
    text = json.dumps(messages, ensure_ascii=False)
    assert "6222021234567890128" not in text and "13812345678" not in text
    # Not even the last digits: the model needs none of them.
    assert "0128" not in text and "5678" not in text
    assert "卡号[CARD]" in text
    assert messages[0]["role"] == "system" and "1.10%" in messages[0]["content"]
    assert messages[-1] == {
        "role": "user",
        "content": "提前支取定期怎么算利息 手机[PHONE]",
    }
    assert len(messages) - 2 <= MAX_TURNS
    # Bot turns without a response name are withheld; the roles still alternate.
    assert "回复" not in text
    roles = [m["role"] for m in messages[1:]]
    assert all(a != b for a, b in itertools.pairwise(roles))
