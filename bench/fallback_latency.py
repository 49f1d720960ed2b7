"""Latency of a fallback turn: retrieval, prompt, LLM call and guardrails.

Against a local OpenAI-compatible server that answers at once; prints p50 and p95.

Usage: `.venv/bin/python bench/fallback_latency.py [turns]` (not part of `make test`).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.dialogue.fallback import ActionKnowledgeAnswer
from actions.llm.client import ChatClient
from tests.trackers import make_tracker

QUESTIONS = [
    "定期存款提前取出来利息怎么算",
    "信用卡年费怎么免",
    "大额存单多少起存",
    "can I repay my mortgage early",
    "what is a safe account scam",
    "how long does a remittance abroad take",
]


async def answer(request: web.Request) -> web.Response:
    """A model that answers at once: the figure measures FinAssist's own overhead."""
    await request.json()
    return web.json_response({"choices": [{"message": {"content": "OK"}}]})


async def main(turns: int) -> None:
    """Run the turns and print the latency percentiles."""
    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = ChatClient(str(server.make_url("/")), "bench", timeout_s=8)
    services.llm_client = lambda: client  # type: ignore[assignment]
    services.knowledge_index()  # built once, as at start-up
    timings = []
    for i in range(turns):
        tracker = make_tracker(
            text=QUESTIONS[i % len(QUESTIONS)], intent="nlu_fallback"
        )
        started = time.perf_counter()
        await ActionKnowledgeAnswer().run(CollectingDispatcher(), tracker, {})
        timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=20)
    print(
        f"fallback turns={turns} p50_ms={statistics.median(timings):.1f} "
        f"p95_ms={cuts[-1]:.1f}"
    )
    await client.close()
    await server.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
