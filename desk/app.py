"""The agent desk: queue, transcript, summary, profile, knowledge, reply, hand-back.

JSON API under /api (Bearer token), a static page at /.

Run with `make desk` (or `python -m desk`); `make run` starts it with the servers.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from actions.handoff import effective_priority
from actions.money import format_money
from actions.pii import mask_pii
from actions.profile_db.repository import ProfileRepository, TicketView
from actions.settings import Settings
from desk.admin import ADMIN_PREFIX, admin_routes
from desk.compliance import compliance_routes
from desk.rasa_client import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAX_MESSAGE_CHARS = 2000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REPO = web.AppKey("repo", ProfileRepository)
RASA = web.AppKey("rasa", RasaClient)
SETTINGS = web.AppKey("settings", Settings)
KNOWLEDGE = web.AppKey("knowledge", dict)
FAREWELL = web.AppKey("farewell", dict)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def load_knowledge(path: Path = HERE / "knowledge.yml") -> dict[str, Any]:
    """Knowledge cards by topic."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))["topics"]


def load_farewell(domain: Path = ROOT / "domain.yml") -> dict[str, str]:
    """The hand-back message per language, from the domain (wording lives there)."""
    responses = yaml.safe_load(domain.read_text(encoding="utf-8"))["responses"]
    farewell = {}
    for variation in responses["utter_handoff_back"]:
        for condition in variation.get("condition", []):
            if condition["name"] == "language":
                farewell[condition["value"]] = variation["text"]
    return farewell


def ticket_json(ticket: TicketView, now: datetime) -> dict[str, Any]:
    """The queue view of a ticket; `priority` includes the waiting time."""
    waited = (now - ticket.created_at).total_seconds()
    return {
        "id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "customer_id": ticket.customer_id,
        "customer_name": ticket.customer_name,
        "priority": effective_priority(ticket.base_priority, waited),
        "emotion": ticket.emotion,
        "urgent": ticket.urgent,
        "reason": ticket.reason,
        "status": ticket.status,
        "topic": ticket.topic,
        "channel": ticket.channel,
        "language": ticket.language,
        "waiting_seconds": int(waited),
        "created_at": ticket.created_at.isoformat(),
    }


def transcript(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Customer, bot and agent messages of a tracker, personal data masked."""
    lines = []
    for event in events:
        kind, text = event.get("event"), event.get("text")
        if kind not in ("user", "bot") or not text:
            continue
        agent = (event.get("metadata") or {}).get("agent")
        sender = "customer" if kind == "user" else ("agent" if agent else "bot")
        stamp = datetime.fromtimestamp(float(event.get("timestamp") or 0), timezone.utc)
        lines.append(
            {
                "from": sender,
                "text": mask_pii(str(text)),
                "time": stamp.isoformat(),
                "agent": agent,
            }
        )
    return lines


@web.middleware
async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every /api call needs `Authorization: Bearer <AGENT_DESK_TOKEN>`.

    The admin API (desk/admin.py) checks its own, separate ADMIN_API_TOKEN.
    """
    if request.path.startswith("/api/") and not request.path.startswith(ADMIN_PREFIX):
        expected = request.app[SETTINGS].desk_token
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(
            given.removeprefix("Bearer ").strip().encode(), expected.encode()
        ):
            return _error(401, "missing or wrong agent token")
    return await handler(request)


async def list_handoffs(request: web.Request) -> web.Response:
    """Open tickets, highest (waiting-adjusted) priority first."""
    tickets = await asyncio.to_thread(request.app[REPO].open_tickets)
    now = datetime.now(timezone.utc)
    rows = sorted(
        (ticket_json(t, now) for t in tickets),
        key=lambda r: (-r["priority"], r["created_at"]),
    )
    return web.json_response({"handoffs": rows})


def _ticket_id(request: web.Request) -> int | None:
    try:
        return int(request.match_info["ticket_id"])
    except ValueError:
        return None


async def _ticket_or_error(request: web.Request) -> TicketView | web.Response:
    ticket_id = _ticket_id(request)
    ticket = (
        await asyncio.to_thread(request.app[REPO].ticket, ticket_id)
        if ticket_id
        else None
    )
    return ticket if ticket is not None else _error(404, "no such handoff")


def _profile(
    repo: ProfileRepository, customer_id: str | None, language: str
) -> dict[str, Any] | None:
    if not customer_id:
        return None
    customer = repo.get_customer(customer_id)
    if customer is None:
        return None
    return {
        "id": customer.id,
        "name": customer.name(language),
        "tier": customer.tier,
        "risk_level": customer.risk_level,
        "language": customer.preferred_language,
        "accounts": [
            {
                "type": a.account_type,
                "number": a.masked_number,
                "balance": format_money(a.balance, language),
            }
            for a in repo.accounts(customer_id)
        ],
        "cards": [
            {"type": c.card_type, "last4": c.last4, "status": c.status}
            for c in repo.cards(customer_id)
        ],
    }


def _knowledge(request: web.Request, ticket: TicketView) -> list[dict[str, Any]]:
    topics = request.app[KNOWLEDGE]
    lang = ticket.language
    cards = []
    repo, settings = request.app[REPO], request.app[SETTINGS]
    if ticket.topic == "mortgage":
        items = []
        for status, label in (
            ("first", "首套 first home"),
            ("second", "二套 second home"),
        ):
            for band in repo.mortgage_rates(status, date.today()):
                items.append(
                    f"{label}: {band.min_term_years}-{band.max_term_years} "
                    f"年/years {band.annual_rate:.2f}% ({band.version})"
                )
        cards.append({"title": "现行利率表 Current rate table", "items": items})
    if ticket.topic == "transfer":
        items = [
            f"单笔上限 Single transfer max: "
            f"{format_money(settings.max_single_transfer, lang)}"
        ]
        if ticket.customer_id:
            items += [
                f"{a.account_type} {a.masked_number}: 日限额 daily limit "
                f"{format_money(a.daily_transfer_limit, lang)}"
                for a in repo.accounts(ticket.customer_id)
            ]
        cards.append({"title": "客户限额 This customer's limits", "items": items})
    for card in topics.get(ticket.topic or "default") or topics["default"]:
        cards.append(
            {
                "title": f"{card['title_zh']} {card['title_en']}",
                "items": card["items_zh"] if lang == "zh" else card["items_en"],
            }
        )
    return cards


async def handoff_detail(request: web.Request) -> web.Response:
    """Transcript, summary, profile card and knowledge cards of one ticket."""
    ticket = await _ticket_or_error(request)
    if isinstance(ticket, web.Response):
        return ticket
    try:
        tracker = await request.app[RASA].tracker(ticket.conversation_id)
        lines = transcript(tracker.get("events") or [])
    except RasaUnavailable as exc:
        logger.warning("transcript unavailable: %s", exc)
        lines = []
    repo = request.app[REPO]
    profile = await asyncio.to_thread(
        _profile, repo, ticket.customer_id, ticket.language
    )
    knowledge = await asyncio.to_thread(_knowledge, request, ticket)
    return web.json_response(
        {
            "handoff": ticket_json(ticket, datetime.now(timezone.utc)),
            "language": ticket.language,
            "summary": json.loads(ticket.summary or "{}"),
            "transcript": lines,
            "profile": profile,
            "knowledge": knowledge,
        }
    )


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "the body must be JSON")
    return body if isinstance(body, dict) else _error(400, "the body must be an object")


async def post_message(request: web.Request) -> web.Response:
    """Send the agent's reply to the customer through their channel."""
    ticket = await _ticket_or_error(request)
    if isinstance(ticket, web.Response):
        return ticket
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    text = str(body.get("text") or "").strip()
    if not text or len(text) > MAX_MESSAGE_CHARS:
        return _error(400, f"text must be 1-{MAX_MESSAGE_CHARS} characters")
    if ticket.status not in ("waiting", "active"):
        return _error(409, "this handoff is closed")
    agent = str(body.get("agent") or "agent")[:64]
    try:
        await request.app[RASA].send_agent_message(ticket.conversation_id, text, agent)
    except RasaUnavailable as exc:
        return _error(502, f"message not delivered: {exc}")
    await asyncio.to_thread(
        request.app[REPO].update_ticket, ticket.id, status="active", agent=agent
    )
    return web.json_response({"ok": True})


async def release(request: web.Request) -> web.Response:
    """Hand the conversation back to the bot."""
    ticket = await _ticket_or_error(request)
    if isinstance(ticket, web.Response):
        return ticket
    if ticket.status not in ("waiting", "active"):
        return _error(409, "this handoff is closed")
    farewell = request.app[FAREWELL].get(ticket.language) or request.app[FAREWELL]["zh"]
    try:
        await request.app[RASA].hand_back(ticket.conversation_id, farewell)
    except RasaUnavailable as exc:
        return _error(502, f"not handed back: {exc}")
    await asyncio.to_thread(
        request.app[REPO].update_ticket, ticket.id, status="released"
    )
    return web.json_response({"ok": True, "status": "released"})


async def index(request: web.Request) -> web.FileResponse:
    """The desk page (it asks for the token itself)."""
    return web.FileResponse(HERE / "static" / "index.html")


def create_app(
    settings: Settings, repo: ProfileRepository, rasa: RasaClient
) -> web.Application:
    """The desk application.

    Args:
        settings: needs ``desk_token``; ``admin_token`` (empty: admin API off) and
            ``tracker_db_url`` serve the erasure API.
        repo: the profile repository (tickets, profiles, rates).
        rasa: client of the Rasa HTTP API.

    Returns:
        The aiohttp application.
    """
    if not settings.desk_token:
        raise ValueError("AGENT_DESK_TOKEN must be set for the agent desk")
    app = web.Application(middlewares=[require_token], client_max_size=64 * 1024)
    app[SETTINGS], app[REPO], app[RASA] = settings, repo, rasa
    app[KNOWLEDGE], app[FAREWELL] = load_knowledge(), load_farewell()
    app.router.add_get("/", index)
    app.router.add_static("/static", HERE / "static")
    app.router.add_get("/api/handoffs", list_handoffs)
    app.router.add_get("/api/handoffs/{ticket_id}", handoff_detail)
    app.router.add_post("/api/handoffs/{ticket_id}/messages", post_message)
    app.router.add_post("/api/handoffs/{ticket_id}/release", release)
    app.router.add_routes(compliance_routes(repo, settings.compliance_token))
    app.router.add_routes(admin_routes(settings, repo))

    async def close_client(_: web.Application) -> None:
        await rasa.close()

    app.on_cleanup.append(close_client)
    return app
