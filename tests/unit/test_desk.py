"""The agent desk's JSON API against a real profile DB and a recorded Rasa API."""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from actions.handoff import base_priority
from actions.profile_db.repository import ProfileRepository
from actions.settings import Settings
from desk.app import create_app, transcript
from desk.rasa_client import RasaClient

TOKEN = "desk-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class FakeRasa:
    """Answers like `rasa run --enable-api` and records what the desk sends."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str, dict, object]] = []
        self.fail = fail

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append(
            (request.method, request.url.path, dict(request.url.params), body)
        )
        if self.fail:
            return httpx.Response(500, json={"error": "boom"})
        if request.method == "GET":
            return httpx.Response(
                200,
                json={
                    "events": [
                        {
                            "event": "user",
                            "text": "转人工 卡号6222021234567890128",
                            "timestamp": 1.0,
                        },
                        {
                            "event": "bot",
                            "text": "好的，正在为您转接人工客服",
                            "timestamp": 2.0,
                        },
                        {
                            "event": "bot",
                            "text": "您好，我是小王",
                            "timestamp": 3.0,
                            "metadata": {"agent": "wang"},
                        },
                    ]
                },
            )
        return httpx.Response(200, json={"sender_id": "x"})


def open_ticket(
    repo: ProfileRepository,
    conversation: str,
    reason: str,
    emotion: str,
    customer: str | None = "C001",
    topic: str = "transfer",
) -> int:
    ticket, _ = repo.open_handoff(
        conversation_id=conversation,
        customer_id=customer,
        channel="socketio",
        language="zh",
        reason=reason,
        topic=topic,
        emotion=emotion,
        urgent=False,
        base_priority=base_priority(
            reason, emotion, False, "gold" if customer else None
        ),
        summary=json.dumps({"text": "s", "intents": [], "emotions": [], "facts": {}}),
    )
    return ticket.id


@pytest.fixture
async def desk(repo: ProfileRepository):
    fake = FakeRasa()
    settings = replace(Settings.from_env({}), desk_token=TOKEN)
    rasa = RasaClient(
        "http://rasa.test", "rasa-token", transport=httpx.MockTransport(fake.handler)
    )
    app = create_app(settings, repo, rasa)
    async with TestClient(TestServer(app)) as client:
        yield client, fake, repo


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}]
)
async def test_api_needs_the_agent_token(desk, headers) -> None:
    client, _, _ = desk
    response = await client.get("/api/handoffs", headers=headers)
    assert response.status == 401
    assert (await client.get("/")).status == 200  # the page itself asks for the token


async def test_queue_is_sorted_by_priority(desk) -> None:
    client, _, repo = desk
    calm = open_ticket(repo, "c-1", "request_human", "calm")
    scared = open_ticket(
        repo, "c-2", "high_stakes", "anxious", customer=None, topic="lost_card"
    )
    angry = open_ticket(repo, "c-3", "angry_complaint", "angry")
    response = await client.get("/api/handoffs", headers=AUTH)
    rows = (await response.json())["handoffs"]
    assert [r["id"] for r in rows] == [scared, angry, calm]
    assert {"id", "conversation_id", "priority", "emotion", "reason", "status"} <= set(
        rows[0]
    )
    assert rows[0]["customer_name"] is None and rows[1]["customer_name"] == "李明"


async def test_detail_has_masked_transcript_profile_and_knowledge(desk) -> None:
    client, fake, repo = desk
    ticket = open_ticket(repo, "c-9", "request_human", "calm", topic="mortgage")
    body = await (await client.get(f"/api/handoffs/{ticket}", headers=AUTH)).json()
    assert [m["from"] for m in body["transcript"]] == ["customer", "bot", "agent"]
    assert body["transcript"][0]["text"] == "转人工 卡号[CARD ****0128]"
    assert body["profile"]["name"] == "李明"
    assert body["profile"]["accounts"][0]["number"] == "**** 0123"
    titles = [k["title"] for k in body["knowledge"]]
    assert titles[0] == "现行利率表 Current rate table"
    assert any("3.05%" in item for item in body["knowledge"][0]["items"])
    assert any("Documents" in t for t in titles)
    assert fake.calls[0][:2] == ("GET", "/conversations/c-9/tracker")
    assert fake.calls[0][2]["token"] == "rasa-token"


async def test_reply_reaches_rasa_and_activates_the_ticket(desk) -> None:
    client, fake, repo = desk
    ticket = open_ticket(repo, "c-5", "request_human", "calm")
    response = await client.post(
        f"/api/handoffs/{ticket}/messages",
        headers=AUTH,
        json={"text": "您好，我是小王", "agent": "wang"},
    )
    assert response.status == 200
    method, path, params, body = fake.calls[-1]
    assert (method, path) == ("POST", "/conversations/c-5/tracker/events")
    assert (
        params["execute_side_effects"] == "true"
        and params["output_channel"] == "latest"
    )
    assert body == {
        "event": "bot",
        "text": "您好，我是小王",
        "metadata": {"agent": "wang"},
    }
    assert (
        repo.ticket(ticket).status == "active" and repo.ticket(ticket).agent == "wang"
    )


async def test_release_hands_back_with_resume_and_listen(desk) -> None:
    client, fake, repo = desk
    ticket = open_ticket(repo, "c-6", "request_human", "calm")
    response = await client.post(f"/api/handoffs/{ticket}/release", headers=AUTH)
    assert (await response.json()) == {"ok": True, "status": "released"}
    farewell, resume = fake.calls[-2], fake.calls[-1]
    assert farewell[3]["text"].startswith("人工客服已结束服务")
    assert resume[3] == [
        {"event": "resume"},
        {"event": "action", "name": "action_listen"},
    ]
    assert repo.ticket(ticket).status == "released"
    listed = await (await client.get("/api/handoffs", headers=AUTH)).json()
    assert ticket not in [r["id"] for r in listed["handoffs"]]
    again = await client.post(f"/api/handoffs/{ticket}/release", headers=AUTH)
    assert again.status == 409


@pytest.mark.parametrize(
    ("path", "payload", "status"),
    [
        ("/api/handoffs/999/messages", {"text": "hi"}, 404),
        ("/api/handoffs/abc/messages", {"text": "hi"}, 404),
        ("/api/handoffs/{id}/messages", {"text": ""}, 400),
        ("/api/handoffs/{id}/messages", {"text": "x" * 2001}, 400),
        ("/api/handoffs/{id}/messages", "not json", 400),
        ("/api/handoffs/{id}/messages", ["a", "list"], 400),
    ],
)
async def test_bad_requests_get_clear_errors(desk, path, payload, status) -> None:
    client, _, repo = desk
    ticket = open_ticket(repo, "c-7", "request_human", "calm")
    url = path.format(id=ticket)
    if isinstance(payload, str):
        response = await client.post(url, headers=AUTH, data=payload)
    else:
        response = await client.post(url, headers=AUTH, json=payload)
    assert response.status == status
    assert "error" in await response.json()


async def test_rasa_down_gives_502_and_keeps_the_ticket(
    repo: ProfileRepository,
) -> None:
    settings = replace(Settings.from_env({}), desk_token=TOKEN)
    rasa = RasaClient(
        "http://rasa.test",
        "t",
        transport=httpx.MockTransport(FakeRasa(fail=True).handler),
    )
    async with TestClient(TestServer(create_app(settings, repo, rasa))) as client:
        ticket = open_ticket(repo, "c-8", "request_human", "calm")
        response = await client.post(
            f"/api/handoffs/{ticket}/messages", headers=AUTH, json={"text": "hello"}
        )
        assert response.status == 502
        assert repo.ticket(ticket).status == "waiting"


def test_desk_refuses_to_start_without_a_token(repo: ProfileRepository) -> None:
    with pytest.raises(ValueError, match="AGENT_DESK_TOKEN"):
        create_app(Settings.from_env({}), repo, RasaClient("http://x", "t"))


def test_transcript_skips_non_messages() -> None:
    events = [
        {"event": "action", "name": "action_listen"},
        {"event": "slot", "name": "x"},
        {"event": "user", "text": "hi", "timestamp": 5},
    ]
    assert [m["from"] for m in transcript(events)] == ["customer"]
