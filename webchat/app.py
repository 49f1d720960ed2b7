"""The customers' web chat page: static files, the demo login, satisfaction ratings.

The page talks to the Rasa server's socket.io channel directly (WEBCHAT_RASA_URL); this
server only hands it its files, its configuration, a demo login token and takes the
1-5 rating at the end. The same rating API serves the mobile app.

GET  /                      the page
GET  /static/<file>         its script and style
GET  /vendor/socket.io.min.js  socket.io-client, installed from npm by `make install`
                            (and its source map)
GET  /api/config            Rasa URL, socket path, demo login on/off, message limit
GET  /api/demo-customers    demo customers (404 when the demo login is off)
POST /api/demo-login        {"customer_id": "C001"} → a signed token (demo only)
POST /api/ratings           {"conversation_id", "score": 1-5, "comment"}; optional
                            `Authorization: Bearer <customer token>`
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from actions.errors import BotError
from actions.identity import issue_token, verify_login
from actions.ownership import LoginRevocations
from actions.pii import mask_pii
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from actions.settings import Settings

logger = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
SOCKET_IO_CLIENT = HERE / "node_modules" / "socket.io-client" / "dist"
VENDOR_FILES = frozenset({"socket.io.min.js", "socket.io.min.js.map"})
MAX_COMMENT_CHARS = 500
MAX_CONVERSATION_ID = 255
CHANNELS = ("socketio", "rest")
RATINGS_PER_MINUTE = 10  # per client address
SETTINGS = web.AppKey("settings", Settings)
REPO = web.AppKey("repo", ProfileRepository)
LIMITER = web.AppKey("limiter", object)
REVOCATIONS = web.AppKey("revocations", LoginRevocations)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "malformed JSON")
    return body if isinstance(body, dict) else _error(400, "expected a JSON object")


async def index(request: web.Request) -> web.FileResponse:
    """The chat page."""
    return web.FileResponse(STATIC / "index.html")


async def socket_io_client(request: web.Request) -> web.StreamResponse:
    """socket.io-client from the npm registry (installed by `make install`)."""
    name = request.match_info["name"]
    path = SOCKET_IO_CLIENT / name
    if name not in VENDOR_FILES or not path.exists():
        return _error(503, "socket.io-client missing: run `make install`")
    return web.FileResponse(path)


def security_headers(settings: Settings) -> Any:
    """Headers that keep the page from loading or talking to anything else."""
    rasa = settings.webchat_rasa_url
    socket = rasa.replace("https://", "wss://").replace("http://", "ws://")
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data: https:; "
        f"connect-src 'self' {rasa} {socket}; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

    @web.middleware
    async def add_headers(request: web.Request, handler: Any) -> web.StreamResponse:
        response = await handler(request)
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return add_headers


async def config(request: web.Request) -> web.Response:
    """What the page needs to know to connect."""
    settings = request.app[SETTINGS]
    return web.json_response(
        {
            "rasa_url": settings.webchat_rasa_url,
            "socket_path": "/socket.io",
            "demo_login": settings.demo_login,
            "max_message_chars": settings.max_message_chars,
        }
    )


async def demo_customers(request: web.Request) -> web.Response:
    """The demo customers one may log in as (development and test only)."""
    if not request.app[SETTINGS].demo_login:
        return _error(404, "demo login is off")
    try:
        customers = await asyncio.to_thread(request.app[REPO].retail_customers)
    except BotError:
        return _error(503, "customer directory unavailable, try again shortly")
    return web.json_response(
        {
            "customers": [
                {
                    "id": c.id,
                    "name_zh": c.name_zh,
                    "name_en": c.name_en,
                    "language": c.preferred_language,
                }
                for c in customers
            ]
        }
    )


async def demo_login(request: web.Request) -> web.Response:
    """The demo identity provider: a signed token for a demo customer."""
    settings = request.app[SETTINGS]
    if not settings.demo_login:
        return _error(404, "demo login is off")
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str) or not 0 < len(customer_id) <= 16:
        return _error(400, "customer_id must be a demo customer's id")
    try:
        known = {
            c.id: c for c in await asyncio.to_thread(request.app[REPO].retail_customers)
        }
    except BotError:
        return _error(503, "customer directory unavailable, try again shortly")
    customer = known.get(customer_id)
    if customer is None:
        return _error(404, "no such demo customer")
    minutes = settings.token_ttl_minutes
    return web.json_response(
        {
            "token": issue_token(customer.id, settings.jwt_secret, minutes),
            "customer": {
                "id": customer.id,
                "name_zh": customer.name_zh,
                "name_en": customer.name_en,
                "language": customer.preferred_language,
            },
            "expires_in": minutes * 60,
        }
    )


async def rate(request: web.Request) -> web.Response:
    """Store a 1-5 satisfaction rating of a conversation (web page or app)."""
    settings = request.app[SETTINGS]
    body = await _json_object(request)
    if isinstance(body, web.Response):
        return body
    conversation_id, score = body.get("conversation_id"), body.get("score")
    comment, channel = body.get("comment") or "", body.get("channel") or "socketio"
    if not isinstance(conversation_id, str) or not (
        0 < len(conversation_id) <= MAX_CONVERSATION_ID
    ):
        return _error(400, "conversation_id is required")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        return _error(400, "score must be an integer from 1 to 5")
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT_CHARS:
        return _error(400, f"comment must be text of at most {MAX_COMMENT_CHARS} chars")
    if channel not in CHANNELS:
        return _error(400, f"channel must be one of {', '.join(CHANNELS)}")
    if not request.app[LIMITER].allow(request.remote or "unknown"):
        return _error(429, "too many ratings from this address; try again later")
    customer_id = None
    header = request.headers.get("Authorization", "")
    if header:
        login = verify_login(
            header.removeprefix("Bearer ").strip(), settings.jwt_secret
        )
        try:
            revoked = login is not None and await asyncio.to_thread(
                request.app[REVOCATIONS].is_revoked, login.customer_id, login.issued_at
            )
        except BotError:
            return _error(503, "rating not saved, please try again")
        if login is None or revoked:  # erasure revokes every earlier token
            return _error(401, "invalid or expired login token")
        customer_id = login.customer_id
    repo = request.app[REPO]
    try:
        owner = await asyncio.to_thread(repo.conversation_owner, conversation_id)
        already = await asyncio.to_thread(repo.ratings, conversation_id)
    except BotError:
        return _error(503, "rating not saved, please try again")
    if owner is not None and owner != customer_id:
        # A logged-in customer's conversation is rated by that customer only.
        return _error(403, "this conversation belongs to another customer")
    if already:
        return _error(409, "this conversation has already been rated")
    try:
        await asyncio.to_thread(
            request.app[REPO].record_rating,
            conversation_id=conversation_id,
            customer_id=customer_id,
            channel=channel,
            score=score,
            comment=mask_pii(comment.strip()) or None,
        )
    except (BotError, SQLAlchemyError):
        return _error(503, "rating not saved, please try again")
    return web.json_response({"ok": True}, status=201)


class RateLimiter:
    """At most `per_minute` calls per key in any 60 seconds (one process)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._calls: dict[str, list[float]] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count a call for `key`; False when it is over the limit."""
        now = time.monotonic() if now is None else now
        if len(self._calls) > 10_000:  # forget idle addresses
            self._calls = {k: v for k, v in self._calls.items() if now - v[-1] < 60}
        recent = [t for t in self._calls.get(key, []) if now - t < 60]
        recent.append(now)
        self._calls[key] = recent
        return len(recent) <= self.per_minute


def create_app(settings: Settings, repo: ProfileRepository) -> web.Application:
    """The web chat application."""
    app = web.Application(
        client_max_size=16 * 1024, middlewares=[security_headers(settings)]
    )
    app[SETTINGS], app[REPO] = settings, repo
    app[LIMITER] = RateLimiter(RATINGS_PER_MINUTE)
    app[REVOCATIONS] = LoginRevocations(make_engine(settings.tracker_db_url))
    app.router.add_get("/", index)
    app.router.add_static("/static", STATIC)
    app.router.add_get("/vendor/{name}", socket_io_client)
    app.router.add_get("/api/config", config)
    app.router.add_get("/api/demo-customers", demo_customers)
    app.router.add_post("/api/demo-login", demo_login)
    app.router.add_post("/api/ratings", rate)
    return app
