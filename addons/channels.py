"""Customer channels with the doors locked: REST (the app) and socket.io (the web page).

Rasa's own channel classes and URLs (``/webhooks/rest/webhook``, ``/socket.io``) with
FinAssist's admission in front of the dialogue (`ChannelGuard`, rules in
`actions.channel_guard`):

- no text a customer sends acts as an intent command;
- sender ids, texts and metadata are checked and bounded before any work, metadata is
  reduced to the login token, and request bodies are capped for the whole server;
- limits per sender, per client address (behind trusted proxies only) and per
  socket, shared by every replica through Redis in production;
- a conversation belongs to the first verified customer in it: another identity, or
  none, is refused with a reply in its language and sees nothing of it; a login token
  revoked at erasure counts for nothing;
- socket.io conversation ids are issued by the server, bound to the socket holding
  them, and pages from other origins are refused in production;
- every message gets an answer: when a dependency fails (the action server, the lock
  store, the conversation store) or the turn produced nothing while no agent holds
  the conversation, the customer is told so in their language.

With `SOCKETIO_REDIS_URL` set, socket.io clients are shared across Sanic workers and
replicas through Redis (`share_clients`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from sanic import Blueprint, Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request
from socketio import AsyncServer

from actions import channel_guard as rules
from actions.client_address import client_address, parse_networks
from actions.errors import ServiceUnavailable
from actions.identity import verify_login
from actions.ownership import (
    OK,
    ConversationOwners,
    LoginRevocations,
)
from actions.profile_db.session import make_engine
from actions.rate_limit import Limiter, MemoryLimiter, RedisLimiter
from actions.session_ids import SessionIds
from actions.settings import (
    ChannelSettings,
    channel_settings,
    socketio_redis_url,
    socketio_signing_secret,
)
from addons import resilience
from addons.socketio_manager import (
    SignedRedisManager,
    derive_key,
    refuse_binary_packets,
)

logger = logging.getLogger(__name__)
OnMessage = Callable[[UserMessage], Awaitable[Any]]
# A socket may ask for its conversation id a few times (reconnections), not in a loop.
SESSION_REQUESTS_PER_MINUTE = 10
STATUS = {
    "empty": 400,
    "invalid_text": 400,
    "too_long": 413,
    "rate_limited": 429,
    "login_required": 401,
    "foreign_identity": 403,
    "unavailable": 503,
}


@dataclass(frozen=True)
class Admission:
    """The guard's answer about one message: refused (`problem`) or the clean parts."""

    problem: str | None = None
    text: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    customer_id: str | None = None

    @property
    def status(self) -> int:
        """The HTTP status of a refusal (200 when admitted)."""
        return STATUS.get(self.problem or "", 200)


class ChannelGuard:
    """Admission of customer messages, shared by the REST and socket.io channels."""

    def __init__(
        self,
        settings: ChannelSettings | None = None,
        limiter: Limiter | None = None,
        owners: ConversationOwners | None = None,
        revocations: LoginRevocations | None = None,
    ) -> None:
        self.settings = settings or channel_settings()
        self.proxies = parse_networks(self.settings.trusted_proxies)
        if limiter is None:
            url = self.settings.rate_limit_redis_url
            limiter = RedisLimiter(url) if url else MemoryLimiter()
        self.limiter = limiter
        if owners is None or revocations is None:
            engine = make_engine(self.settings.tracker_db_url)
            owners = owners or ConversationOwners(engine)
            revocations = revocations or LoginRevocations(engine)
        self.owners, self.revocations = owners, revocations

    @property
    def max_chars(self) -> int:
        """The longest message accepted."""
        return self.settings.max_chars

    def address(self, peer: str | None, headers: Any) -> str:
        """The client's address, from forwarded headers of trusted proxies only."""
        return client_address(peer, dict(headers or {}), self.proxies)

    def notice(self, problem: str, text: str) -> str:
        """What the customer reads about a refusal, in their message's language."""
        return rules.notice(problem, text, limit=self.settings.max_chars)

    async def admit(
        self, sender: str, text: str, metadata: Any, address: str
    ) -> Admission:
        """Check one message; the returned text and metadata are what Rasa may see.

        The order matters: limits are counted before anything costly, and a refused
        message still counts towards them.
        """
        cleaned = rules.clean_text(text)
        per_minute = self.settings.per_minute
        if not await self.limiter.allow(
            "ip", address, per_minute * self.settings.ip_factor
        ):
            return Admission("rate_limited")
        if not await self.limiter.allow("sender", sender, per_minute):
            return Admission("rate_limited")
        if cleaned is None:
            return Admission("invalid_text")
        text = cleaned
        if rules.is_blank(text):
            return Admission("empty")
        if len(text) > self.settings.max_chars:
            return Admission("too_long")
        clean = rules.clean_metadata(metadata)
        try:
            customer, verdict = await asyncio.to_thread(
                self._identity, sender, clean.get("auth_token")
            )
        except ServiceUnavailable:
            logger.warning("conversation owners unavailable: message refused")
            return Admission("unavailable")
        if verdict != OK:
            return Admission(verdict)
        if customer is None:  # an invalid or revoked token counts for nothing
            clean.pop("auth_token", None)
        return Admission(None, text, clean, customer)

    def _identity(self, sender: str, token: str | None) -> tuple[str | None, str]:
        login = verify_login(token, self.settings.jwt_secret) if token else None
        if login and self.revocations.is_revoked(login.customer_id, login.issued_at):
            login = None
        customer = login.customer_id if login else None
        return customer, self.owners.verdict(sender, customer)


async def answer_turn(
    on_new_message: OnMessage,
    message: UserMessage,
    sent: Callable[[], int],
    is_paused: Callable[[str], Awaitable[bool]],
) -> str | None:
    """Run one turn; the problem to tell the customer about, or None.

    ``unavailable`` when a dependency failed (the turn raised, or an action call could
    not reach the action server); ``no_reply`` when nothing was said and no agent holds
    the conversation. `sent` counts the messages the turn sent so far.
    """
    with resilience.turn_outages() as outages:
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("a customer turn failed")
            return "unavailable"
    if outages:
        logger.warning("turn answered with an outage notice: %s", ", ".join(outages))
        return "unavailable"
    if sent() == 0:
        try:
            if await is_paused(message.sender_id):
                return None  # a person holds the conversation
        except Exception:
            logger.exception("could not read the conversation after a silent turn")
            return "unavailable"
        logger.warning("a turn produced no reply: the customer is told so")
        return "no_reply"
    return None


def _paused_checker(app_holder: dict[str, Sanic]) -> Callable[[str], Awaitable[bool]]:
    async def is_paused(sender_id: str) -> bool:
        app = app_holder.get("app")
        agent = getattr(getattr(app, "ctx", None), "agent", None)
        if agent is None or agent.tracker_store is None:
            return False
        tracker = await agent.tracker_store.retrieve(sender_id)
        return bool(tracker and tracker.is_paused())

    return is_paused


def _limit_request_size(blueprint: Blueprint, max_bytes: int) -> None:
    """Cap every request body of the server (Sanic's default is 100 MB)."""

    @blueprint.listener("before_server_start")
    async def cap(app: Sanic, _loop: Any) -> None:
        app.config.REQUEST_MAX_SIZE = min(app.config.REQUEST_MAX_SIZE, max_bytes)
        app.error_handler.add(PayloadTooLarge, _too_large)


def _too_large(request: Request, exception: Exception) -> Any:
    """A body over the cap is refused before it is read, in the channels' format."""
    return _error(413, "request body too large")


class GuardedRestInput(RestInput):
    """The REST channel (``/webhooks/rest/webhook``) behind the guard."""

    def __init__(self, guard: ChannelGuard | None = None) -> None:
        self._guard = guard

    @property
    def guard(self) -> ChannelGuard:
        """Built on first use, so that importing the class needs no database."""
        if self._guard is None:
            self._guard = ChannelGuard()
        return self._guard

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """No credentials: everything comes from the settings module."""
        return cls()

    def blueprint(self, on_new_message: OnMessage) -> Blueprint:
        """Rasa's REST routes, each request admitted before it reaches Rasa."""
        guard = self.guard
        bp = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        _limit_request_size(bp, guard.settings.max_request_bytes)
        app_holder: dict[str, Sanic] = {}

        @bp.listener("before_server_start")
        async def keep_app(app: Sanic, _loop: Any) -> None:
            app_holder["app"] = app

        is_paused = _paused_checker(app_holder)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> Any:
            body, problem = _json_body(request.body or b"")
            if problem:
                return _error(400, problem)
            sender, text = body.get("sender"), body.get("message")
            sender_problem = rules.sender_problem(sender)
            if sender_problem:
                return _error(400, sender_problem)
            if not isinstance(text, str):
                return _error(400, "message must be a string")
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _error(400, "metadata must be a JSON object")
            address = guard.address(getattr(request, "ip", None), request.headers)
            admission = await guard.admit(sender, text, metadata, address)
            if admission.problem:
                return _error(
                    admission.status,
                    admission.problem,
                    guard.notice(admission.problem, text),
                )
            collector = CollectingOutputChannel()
            message = UserMessage(
                admission.text,
                collector,
                sender,
                input_channel=self.name(),
                metadata=admission.metadata,
            )
            problem = await answer_turn(
                on_new_message, message, lambda: len(collector.messages), is_paused
            )
            if problem == "unavailable" and not collector.messages:
                return _error(503, "service_unavailable", guard.notice(problem, text))
            if problem:
                await collector.send_text_message(sender, guard.notice(problem, text))
            return response.json(collector.messages)

        return bp


class CountingSocketIOOutput(SocketIOOutput):
    """Rasa's socket.io output, counting what it sends during one turn."""

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        super().__init__(sio, bot_message_evt)
        self.sent = 0

    async def _send_message(self, socket_id: str, response: Any) -> None:
        self.sent += 1
        await super()._send_message(socket_id, response)

    async def send_custom_json(
        self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any
    ) -> None:
        self.sent += 1
        await super().send_custom_json(recipient_id, json_message, **kwargs)


class ConversationOrder:
    """One message of a conversation at a time, first come first served (a process).

    Locks exist only while a conversation has a message in flight, so memory stays
    bounded whatever ids come and go.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, conversation_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(conversation_id, (asyncio.Lock(), 0))
        self._locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[conversation_id]
            if users <= 1:
                del self._locks[conversation_id]
            else:
                self._locks[conversation_id] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class _Socket:
    address: str
    session_id: str | None = None


class GuardedSocketIOInput(SocketIOInput):
    """The web page's socket.io channel behind the same guard.

    The events stay Rasa's (``session_request`` → ``session_confirm``, then
    ``user_uttered`` / ``bot_uttered``); what changes is who decides the conversation
    id (the server), who may use it (the socket it was confirmed to), and that every
    refusal is explained to that socket alone.
    """

    guard: ChannelGuard | None = None

    @classmethod
    def from_credentials(
        cls, credentials: dict[str, Any] | None
    ) -> GuardedSocketIOInput:
        """socket.io's own settings; the guard comes from the settings module."""
        channel = super().from_credentials(credentials)
        assert isinstance(channel, GuardedSocketIOInput)
        return channel

    def blueprint(self, on_new_message: OnMessage) -> Blueprint:
        """The socket.io server and its handlers, guarded."""
        guard = self.guard or ChannelGuard()
        self.guard = guard
        settings = guard.settings
        origins: list[str] | str = list(settings.socketio_origins) or []
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=origins,
            max_http_buffer_size=settings.max_request_bytes,
        )
        refuse_binary_packets(sio)
        self.sio = sio
        bp = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        _limit_request_size(bp, settings.max_request_bytes)
        app_holder: dict[str, Sanic] = {}

        @bp.listener("before_server_start")
        async def keep_app(app: Sanic, _loop: Any) -> None:
            app_holder["app"] = app

        is_paused = _paused_checker(app_holder)
        ids = SessionIds(settings.jwt_secret)
        sockets: dict[str, _Socket] = {}
        holders: dict[str, str] = {}  # session id -> the socket holding it here
        connections: dict[str, int] = {}  # address -> open sockets here
        namespace = self.namespace
        in_order = ConversationOrder()

        async def tell(sid: str, text: str) -> None:
            await sio.emit(self.bot_message_evt, {"text": text}, room=sid)

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> Any:
            return response.json({"status": "ok"})

        @sio.on("connect", namespace=namespace)
        async def connect(sid: str, environ: dict, auth: Any = None) -> bool:
            request = environ.get("sanic.request")
            address = guard.address(
                getattr(request, "ip", None), getattr(request, "headers", {})
            )
            if connections.get(address, 0) >= settings.max_connections_per_ip:
                logger.warning("socket.io: too many connections from one address")
                return False
            if not await guard.limiter.allow(
                "connect_ip", address, settings.connects_per_ip_per_minute
            ):
                logger.warning("socket.io: connection rate limit hit")
                return False
            connections[address] = connections.get(address, 0) + 1
            sockets[sid] = _Socket(address)
            return True

        @sio.on("disconnect", namespace=namespace)
        async def disconnect(sid: str) -> None:
            socket = sockets.pop(sid, None)
            if socket is None:
                return
            left = connections.get(socket.address, 1) - 1
            if left > 0:
                connections[socket.address] = left
            else:
                connections.pop(socket.address, None)
            if socket.session_id and holders.get(socket.session_id) == sid:
                del holders[socket.session_id]

        @sio.on("session_request", namespace=namespace)
        async def session_request(sid: str, data: Any = None) -> None:
            socket = sockets.get(sid)
            if socket is None:
                return
            if not await guard.limiter.allow(
                "socket_session", sid, SESSION_REQUESTS_PER_MINUTE
            ):
                await tell(sid, guard.notice("rate_limited", ""))
                return
            wanted = data.get("session_id") if isinstance(data, dict) else None
            session_id = wanted if ids.is_valid(wanted) else ids.issue()
            if socket.session_id and socket.session_id != session_id:
                sio.leave_room(sid, socket.session_id, namespace=namespace)
                if holders.get(socket.session_id) == sid:
                    del holders[socket.session_id]
            previous = holders.get(session_id)
            if previous and previous != sid:  # the conversation moved to this socket
                sio.leave_room(previous, session_id, namespace=namespace)
                if previous in sockets:
                    sockets[previous].session_id = None
            holders[session_id] = sid
            socket.session_id = session_id
            sio.enter_room(sid, session_id, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt, namespace=namespace)
        async def handle_message(sid: str, data: Any = None) -> None:
            socket = sockets.get(sid)
            if socket is None:
                return
            if not isinstance(data, dict):
                return
            text = data.get("message")
            if not isinstance(text, str):
                return
            claimed = data.get("session_id")
            session_id = socket.session_id
            if session_id is None or (claimed is not None and claimed != session_id):
                # Not this socket's conversation: nothing is read or written there.
                await tell(sid, guard.notice("foreign_identity", text))
                return
            metadata = data.get(self.metadata_key)
            if isinstance(metadata, str) and len(metadata) <= settings.max_chars * 8:
                try:
                    metadata = json.loads(metadata)
                except ValueError:
                    metadata = None
            # python-socketio runs each event in its own task: one conversation's
            # messages go through admission and the dialogue in the order sent
            # (nothing above awaits).
            async with in_order.turn(session_id):
                if not await guard.limiter.allow("socket", sid, settings.per_minute):
                    await tell(sid, guard.notice("rate_limited", text))
                    return
                admission = await guard.admit(
                    session_id, text, metadata, socket.address
                )
                if admission.problem:
                    await tell(sid, guard.notice(admission.problem, text))
                    return
                output = CountingSocketIOOutput(sio, self.bot_message_evt)
                message = UserMessage(
                    admission.text,
                    output,
                    session_id,
                    input_channel=self.name(),
                    metadata=admission.metadata,
                )
                problem = await answer_turn(
                    on_new_message, message, lambda: output.sent, is_paused
                )
                if problem:
                    await output.send_text_message(
                        session_id, guard.notice(problem, text)
                    )

        url = socketio_redis_url()
        if url:
            share_clients(sio, url, derive_key(socketio_signing_secret()))
        return bp


def share_clients(sio: AsyncServer, url: str, key: bytes) -> None:
    """Let every worker and replica reach every socket.io client, through Redis.

    python-socketio's client manager for several processes, installed before the
    server handles its first connection: an emit to a room on one worker is published
    to Redis and delivered by the worker that holds the connection. The stock
    `AsyncRedisManager` of 5.8.0 unpickles what it reads (CVE-2025-61765), so the
    manager is `SignedRedisManager`: signed JSON, anything else dropped. Rasa builds
    the server itself, so the manager is set afterwards, as the `client_manager`
    argument would have.
    """
    manager = SignedRedisManager(url, key=key, channel="finassist-socketio-signed")
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False


def _json_body(raw: bytes) -> tuple[dict[str, Any], str | None]:
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return {}, "malformed JSON"
    if not isinstance(body, dict):
        return {}, "expected a JSON object with sender and message"
    return body, None


def _error(status: int, error: str, notice: str | None = None) -> Any:
    body = {"error": error}
    if notice:
        body["message"] = notice
    return response.json(body, status=status)
