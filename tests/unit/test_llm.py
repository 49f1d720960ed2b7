"""LLM fallback: client (MockTransport), circuit breaker, prompt window and masking,
guardrails."""

from __future__ import annotations

import asyncio
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
    assert "[CARD ****0128]" in text and "[PHONE ***5678]" in text
    assert messages[0]["role"] == "system" and "1.10%" in messages[0]["content"]
    assert messages[-1] == {
        "role": "user",
        "content": "提前支取定期怎么算利息 手机[PHONE ***5678]",
    }
    assert len(messages) - 2 <= MAX_TURNS


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory):
    from transformers import BertTokenizer, GPT2Config, TFGPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-lm")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"定期存款利率提前支取您好",
        "user",
        "assistant",
        "system",
        ":",
    ]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=1024,
        n_embd=16,
        n_layer=1,
        n_head=2,
        pad_token_id=0,
        eos_token_id=None,
        bos_token_id=2,
    )
    model = TFGPT2LMHeadModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(folder))
    return folder


async def test_local_causal_lm_loads_and_generates(tiny_causal_lm) -> None:
    from actions.llm.local import LocalChatModel

    model = LocalChatModel(tiny_causal_lm, timeout_s=30, max_new_tokens=5)
    answer = await model.complete([{"role": "user", "content": "定期存款利率"}])
    assert isinstance(answer, str) and answer  # a tiny random model: any text will do


async def test_local_causal_lm_respects_the_budget(tiny_causal_lm, monkeypatch) -> None:
    from actions.llm.local import LocalChatModel

    model = LocalChatModel(tiny_causal_lm, timeout_s=0.2)
    monkeypatch.setattr(model, "_generate", lambda prompt: time.sleep(2) or "late")
    with pytest.raises(LLMUnavailable):
        await model.complete([{"role": "user", "content": "hi"}])
    with pytest.raises(FileNotFoundError):
        LocalChatModel(tiny_causal_lm / "missing")
