"""Customer channels with the doors locked: REST (the app) and socket.io (the web page).

Rasa's own channels with guards in front of the dialogue:

- a message that starts with ``/`` would skip NLU (``/transfer_money{"amount": ...}``
  sets intents and entities directly); on a customer channel the slashes are removed,
  so the text goes through NLU and the risk rules like any other;
- empty and oversized messages (`FINASSIST_MAX_MESSAGE_CHARS`) are refused;
- each sender may send `FINASSIST_RATE_LIMIT_PER_MIN` messages a minute;
- a malformed REST request gets a JSON error saying what is wrong (HTTP 400/413/429),
  never a stack trace.

The channel names stay ``rest`` and ``socketio``, so the URLs do not change. Limits are
per process; behind several replicas, the load balancer should also limit per client.
With `SOCKETIO_REDIS_URL` set, socket.io clients are shared across Sanic workers and
replicas through Redis (`share_clients`), so an agent's reply sent through any replica
reaches the web customer.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from socketio import AsyncRedisManager, AsyncServer

from actions.settings import message_limits, socketio_redis_url

OnMessage = Callable[[UserMessage], Awaitable[Any]]
MAX_SENDER_CHARS = 128
SWEEP_EVERY = 10_000  # tracked senders between sweeps of idle ones
IP_FACTOR = 10  # one address may carry several customers (an office, a NAT)
NOTICES = {
    "empty": ("请输入您的问题。", "Please type your question."),
    "too_long": (
        "消息太长了，请分几条发送，每条不超过 {limit} 个字。",
        "That message is too long; please send it in parts of at most {limit} "
        "characters.",
    ),
    "rate_limited": (
        "您发送得太快了，请稍等片刻再发。",
        "You're sending messages very fast; please wait a moment.",
    ),
}


def neutralise_commands(text: str) -> str:
    """Strip leading slashes so a customer's text can never act as an intent command."""
    return text.lstrip().lstrip("/").lstrip() if text.lstrip().startswith("/") else text


class MessageGuard:
    """Length and per-sender rate limits shared by both channels (thread-safe)."""

    def __init__(self, max_chars: int, per_minute: int) -> None:
        self.max_chars, self.per_minute = max_chars, per_minute
        self._sent: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._next_sweep = SWEEP_EVERY

    def problem(self, sender: str, text: str, now: float | None = None) -> str | None:
        """Why a message is refused: ``empty``, ``too_long``, ``rate_limited``, or None.

        A refused message still counts towards the sender's rate.
        """
        if not self.allow(sender, self.per_minute, now):
            return "rate_limited"
        if not text.strip():
            return "empty"
        if len(text) > self.max_chars:
            return "too_long"
        return None

    def allow(self, key: str, per_minute: int, now: float | None = None) -> bool:
        """Count one message for `key`; False once it is over `per_minute`.

        Senders idle for a minute are forgotten in a sweep every SWEEP_EVERY new keys,
        so memory stays bounded.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            sent = self._sent[key]
            while sent and now - sent[0] >= 60:
                sent.popleft()
            sent.append(now)
            if len(self._sent) >= self._next_sweep:
                for idle in [k for k, v in self._sent.items() if now - v[-1] >= 60]:
                    del self._sent[idle]
                self._next_sweep = len(self._sent) + SWEEP_EVERY
            return len(sent) <= per_minute

    def notice(self, problem: str, text: str) -> str:
        """The customer-facing explanation, in the language of their message."""
        zh, en = NOTICES[problem]
        chosen = en if text and not any("\u4e00" <= c <= "\u9fff" for c in text) else zh
        return chosen.format(limit=self.max_chars)


def _guard_from_settings() -> MessageGuard:
    max_chars, per_minute = message_limits()
    return MessageGuard(max_chars, per_minute)


def _neutralising(on_new_message: OnMessage) -> OnMessage:
    async def handle(message: UserMessage) -> Any:
        message.text = neutralise_commands(message.text or "")
        return await on_new_message(message)

    return handle


class GuardedRestInput(RestInput):
    """The REST channel (``/webhooks/rest/webhook``) behind the guard."""

    def __init__(self, guard: MessageGuard | None = None) -> None:
        self.guard = guard or _guard_from_settings()

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GuardedRestInput:
        """No credentials: limits come from the settings module."""
        return cls()

    def blueprint(self, on_new_message: OnMessage) -> Blueprint:
        """Rasa's REST blueprint, with the request checked before it reaches Rasa."""
        bp = super().blueprint(_neutralising(on_new_message))

        @bp.middleware("request")
        async def check(request: Request) -> Any:
            if request.method != "POST":
                return None
            return self.refusal(request)

        return bp

    def refusal(self, request: Request) -> Any:
        """A JSON error response for a request that must not reach the bot, or None."""
        raw = request.body or b""
        if len(raw) > self.guard.max_chars * 8 + 8192:
            return _error(413, "request body too large")
        try:
            body = json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError):
            return _error(400, "malformed JSON")
        if not isinstance(body, dict):
            return _error(400, "expected a JSON object with sender and message")
        sender, text = body.get("sender"), body.get("message")
        if not isinstance(sender, str) or not 0 < len(sender) <= MAX_SENDER_CHARS:
            return _error(400, f"sender must be a string of 1-{MAX_SENDER_CHARS} chars")
        if not isinstance(text, str):
            return _error(400, "message must be a string")
        if not isinstance(body.get("metadata") or {}, dict):
            return _error(400, "metadata must be a JSON object")
        client = f"ip:{request.ip}" if getattr(request, "ip", None) else None
        if client and not self.guard.allow(client, self.guard.per_minute * IP_FACTOR):
            return _error(429, "rate_limited", self.guard.notice("rate_limited", text))
        problem = self.guard.problem(sender, text)
        if problem:
            status = {"empty": 400, "too_long": 413, "rate_limited": 429}[problem]
            return _error(status, problem, self.guard.notice(problem, text))
        return None

    def _extract_input_channel(self, req: Request) -> str:
        """Always ``rest``: a client must not name the channel it records."""
        return self.name()


class GuardedSocketIOInput(SocketIOInput):
    """The socket.io channel of the web page behind the same guard.

    A refused message is answered with an explanation in the customer's language and
    never reaches the dialogue.
    """

    guard: MessageGuard

    @classmethod
    def from_credentials(
        cls, credentials: dict[str, Any] | None
    ) -> GuardedSocketIOInput:
        """socket.io's own settings, plus the guard from the settings module."""
        channel = super().from_credentials(credentials)
        channel.guard = _guard_from_settings()
        return channel  # type: ignore[return-value]

    def blueprint(self, on_new_message: OnMessage) -> Blueprint:
        """Rasa's socket.io blueprint with the guard around each message."""
        guard = getattr(self, "guard", None) or _guard_from_settings()
        inner = _neutralising(on_new_message)

        async def guarded(message: UserMessage) -> Any:
            text = message.text or ""
            problem = guard.problem(str(message.sender_id), text)
            if problem:
                await message.output_channel.send_text_message(
                    message.sender_id, guard.notice(problem, text)
                )
                return None
            return await inner(message)

        blueprint = super().blueprint(guarded)
        url = socketio_redis_url()
        if url:
            share_clients(self.sio, url)
        return blueprint


def share_clients(sio: AsyncServer, url: str) -> None:
    """Let every worker and replica reach every socket.io client, through Redis.

    python-socketio's client manager for several processes (`AsyncRedisManager`),
    installed before the server handles its first connection: an emit to a room on
    one worker is published to Redis and delivered by the worker that holds the
    connection. Rasa builds the server itself, so the manager is set afterwards, as
    the `client_manager` argument would have.
    """
    manager = AsyncRedisManager(url, channel="finassist-socketio")
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False


def _error(status: int, error: str, notice: str | None = None) -> Any:
    body = {"error": error}
    if notice:
        body["message"] = notice
    return response.json(body, status=status)
