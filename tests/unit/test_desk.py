"""The agent desk's JSON API against a real profile DB and a recorded Rasa API."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from actions.handoff import base_priority
from actions.profile_db.repository import ProfileRepository
from actions.settings import Settings
from desk.app import create_app, transcript
from desk.rasa_client import RasaClient

TOKEN = "desk-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COMPLIANCE = "compliance-officer-token-0123456789"
REVIEW_AUTH = {**AUTH, "X-Compliance-Token": COMPLIANCE}
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "desk" / "static"


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
    settings = replace(
        Settings.from_env({}), desk_token=TOKEN, compliance_token=COMPLIANCE
    )
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
        # the web page's "an agent has joined" marker
        "data": {"custom": {"data": {"kind": "agent", "agent": "wang"}}},
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
    settings = replace(
        Settings.from_env({}), desk_token=TOKEN, compliance_token=COMPLIANCE
    )
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


# --- the static page, checked without a browser ------------------------------------


class PageElements(HTMLParser):
    """Every element of a page with an id, as (tag, attributes), and its labels."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, tuple[str, dict[str, str | None]]] = {}
        self.label_for: set[str] = set()
        self.options: dict[str, list[str]] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.by_id[str(found["id"])] = (tag, found)
        if tag == "label" and found.get("for"):
            self.label_for.add(str(found["for"]))
        if tag == "select":
            self._select = found.get("id")
            self.options[str(self._select)] = []
        if tag == "option" and self._select:
            self.options[self._select].append(str(found.get("value")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def page_elements(html: str) -> PageElements:
    parser = PageElements()
    parser.feed(html)
    return parser


async def test_page_has_the_risk_alert_panel(desk) -> None:
    client, _, _ = desk
    response = await client.get("/")
    page = page_elements(await response.text())
    tag = {key: value[0] for key, value in page.by_id.items()}
    attrs = {key: value[1] for key, value in page.by_id.items()}

    for tab, panel in (("tab-queue", "queue-view"), ("tab-risk", "risk-view")):
        assert tag[tab] == "button" and attrs[tab]["role"] == "tab"
        assert attrs[tab]["aria-controls"] == panel
        assert attrs[panel]["role"] == "tabpanel"
    assert tag["view-tabs"] and attrs["view-tabs"]["role"] == "tablist"
    assert "risk-open-count" in page.by_id and "queue" in page.by_id
    assert page.options["risk-filter"] == ["open", "cleared", "confirmed", "all"]
    assert tag["risk-table"] == "table" and tag["risk-rows"] == "tbody"
    assert attrs["risk-error"]["role"] == "alert"
    assert tag["review-dialog"] == "dialog" and tag["review-form"] == "form"
    assert attrs["review-error"]["role"] == "alert"
    for field in ("risk-filter", "risk-reviewer", "review-reviewer", "review-note"):
        assert field in page.label_for, f"#{field} has no <label for>"
    assert attrs["review-reviewer"]["maxlength"] == "64"
    assert attrs["review-note"]["maxlength"] == "1000"
    for button in ("risk-refresh", "review-submit", "review-cancel"):
        assert tag[button] == "button"
    assert attrs["review-submit"]["type"] == "submit"
    assert (await client.get("/static/desk.js")).status == 200
    assert (await client.get("/static/desk.css")).status == 200


def test_desk_js_looks_up_only_ids_that_exist_and_never_writes_html() -> None:
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    page = page_elements((STATIC / "index.html").read_text(encoding="utf-8"))
    looked_up = set(re.findall(r"""\$\("([\w-]+)"\)""", script))
    assert {"risk-rows", "review-dialog", "tab-risk"} <= looked_up
    assert looked_up - set(page.by_id) == set()
    code = re.sub(r"/\*.*?\*/", "", script, flags=re.S)  # the header comment names it
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in code


def test_every_risk_category_has_a_bilingual_label() -> None:
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    block = re.search(r"const RISK_CATEGORIES = \{(.*?)\};", script, re.S)
    assert block is not None
    labels = dict(re.findall(r'(\w+): "([^"]+)"', block.group(1)))
    rules = yaml.safe_load((ROOT / "actions" / "risk" / "rules.yml").read_text("utf-8"))
    categories = {rule["category"] for rule in rules["rules"]}
    categories |= {"structuring", "new_payee_large"}  # the transfer rules' categories
    assert categories <= set(labels)
    for text in labels.values():
        assert re.search(r"[\u4e00-\u9fff]", text) and re.search(r"[A-Za-z]", text)


async def test_risk_alert_api_gives_the_page_what_it_reads(desk) -> None:
    client, _, repo = desk
    (alert,) = repo.record_risk_alerts(
        conversation_id="c-risk",
        customer_id="C001",
        channel="socketio",
        language="zh",
        source="transfer",
        ruleset="test",
        hits=[
            {
                "rule_id": "FRAUD-NEW-PAYEE-LARGE",
                "rule_version": 1,
                "category": "new_payee_large",
                "score": 0.8,
                "excerpt": "first transfer to a new payee",
            }
        ],
        action_taken="transfer_blocked",
        amount=Decimal("60000"),
    )
    listed = await client.get("/api/risk-alerts?status=open&limit=1000", headers=AUTH)
    (row,) = (await listed.json())["alerts"]
    script = (STATIC / "desk.js").read_text(encoding="utf-8")
    risk_code = script.split("-- risk alerts\n")[1].split("-- boot\n")[0]
    read = set(re.findall(r"\ba(?:lert)?\.([a-z_]+)\b", risk_code))
    assert read - {"length"} <= set(row)  # every field the page reads is in the API
    assert row["id"] == alert.id and row["amount"] == "60000.00"

    url = f"/api/risk-alerts/{alert.id}/review"
    body = {"status": "cleared", "reviewer": "王", "note": ""}
    # An agent's desk token alone cannot review: the compliance token is needed.
    assert (await client.post(url, headers=AUTH, json=body)).status == 403
    wrong = {**AUTH, "X-Compliance-Token": "guess"}
    assert (await client.post(url, headers=wrong, json=body)).status == 403
    refused = await client.post(url, headers=REVIEW_AUTH, json={"status": "cleared"})
    assert refused.status == 400 and "reviewer" in (await refused.json())["error"]
    done = await client.post(url, headers=REVIEW_AUTH, json=body)
    assert (await done.json())["status"] == "cleared"
    still_open = await client.get("/api/risk-alerts?status=open", headers=AUTH)
    assert (await still_open.json())["alerts"] == []
    again = await client.post(
        url, headers=REVIEW_AUTH, json={"status": "confirmed", "reviewer": "李"}
    )
    assert again.status == 409 and "is cleared" in (await again.json())["error"]
    missing = await client.post(
        "/api/risk-alerts/99999/review",
        headers=REVIEW_AUTH,
        json={"status": "cleared", "reviewer": "李"},
    )
    assert missing.status == 404
    bad = await client.get("/api/risk-alerts?status=nonsense", headers=AUTH)
    assert bad.status == 400
    assert (await client.get("/api/risk-alerts")).status == 401
