"""The LLM fallback against a real OpenAI-compatible HTTP server started in the test.

The server records what it receives: the tests check the turn window, the masking, the
guardrails and the time-out path (`bench/fallback_latency.py` measures the latency).
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.dialogue.fallback import ActionKnowledgeAnswer
from actions.llm.client import ChatClient
from tests.trackers import make_tracker

pytestmark = pytest.mark.integration


class LocalLLM:
    """A minimal /v1/chat/completions server with a scripted answer."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.answer = "定期存款提前支取的部分按活期利率计息。"
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        await asyncio.sleep(self.delay)
        return web.json_response({"choices": [{"message": {"content": self.answer}}]})


@pytest.fixture
async def llm(monkeypatch: pytest.MonkeyPatch):
    fake = LocalLLM()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = ChatClient(
        str(server.make_url("/")), "local-test", timeout_s=1.0, retries=1
    )
    monkeypatch.setattr(services, "llm_client", lambda: client)
    yield fake
    await client.close()
    await server.close()


def long_conversation(text: str) -> object:
    tracker = make_tracker(text=text, intent="nlu_fallback")
    history = []
    for i in range(25):
        history.append({"event": "user", "text": f"第{i}个问题 我的手机13812345678"})
        history.append({"event": "bot", "text": f"第{i}个回答"})
    tracker.events[:0] = history
    return tracker


async def ask(text: str):
    dispatcher = CollectingDispatcher()
    events = await ActionKnowledgeAnswer().run(dispatcher, long_conversation(text), {})
    return dispatcher.messages, events


async def test_grounded_answer_with_source_window_and_masking(llm: LocalLLM) -> None:
    messages, events = await ask("定期存款提前取出来利息怎么算 卡号6222021234567890128")
    assert messages[0]["response"] == "utter_llm_answer"
    assert messages[0]["answer"] == llm.answer
    assert events == [SlotSet("knowledge_source", "deposits-time-zh@2026-11")]
    (sent,) = llm.requests
    chat = sent["messages"]
    assert chat[0]["role"] == "system" and "deposits-time-zh" in chat[0]["content"]
    assert len(chat) - 2 <= 20  # at most 20 earlier turns
    raw = json.dumps(sent, ensure_ascii=False)
    assert "risk level" not in raw  # an anonymous customer: no profile facts
    assert "13812345678" not in raw and "6222021234567890128" not in raw
    assert "[PHONE ***5678]" in raw and "[CARD ****0128]" in raw


@pytest.mark.parametrize(
    "answer",
    [
        "这款理财保本保息，放心。",
        "定期存款年利率是9.99%。",
        "请把钱转到安全账户。",
        "Early withdrawal earns the current rate.",
    ],
)
async def test_guardrails_replace_bad_answers_with_the_passage(
    llm: LocalLLM, answer
) -> None:
    llm.answer = answer
    messages, events = await ask("定期存款提前取出来利息怎么算")
    assert [m["response"] for m in messages] == ["utter_knowledge_answer"]
    assert events == [SlotSet("knowledge_source", "deposits-time-zh@2026-11")]


async def test_slow_model_falls_back_within_the_budget(llm: LocalLLM) -> None:
    llm.delay = 5.0
    started = time.monotonic()
    messages, _ = await ask("定期存款提前取出来利息怎么算")
    assert time.monotonic() - started < 1.0 + 1.0  # LLM_TIMEOUT_S plus a second
    assert [m["response"] for m in messages] == ["utter_knowledge_answer"]


async def test_logged_in_customer_facts_reach_the_prompt_without_identifiers(
    llm: LocalLLM, use_repo
) -> None:
    from tests.conftest import token_for

    tracker = make_tracker(
        text="定期存款提前取出来利息怎么算",
        intent="nlu_fallback",
        token=token_for("C001"),
    )
    await ActionKnowledgeAnswer().run(CollectingDispatcher(), tracker, {})
    system = llm.requests[-1]["messages"][0]["content"]
    assert "risk level: R3" in system and "customer tier: gold" in system
    assert "C001" not in system and "李明" not in system
