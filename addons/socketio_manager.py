r"""socket.io's Redis client manager without pickle: signed JSON between processes.

python-socketio 5.8.0 (pinned: Rasa 3.6's channel needs it) sends the messages its
`AsyncRedisManager` shares between workers and replicas as ``pickle.dumps`` and reads
them with ``pickle.loads``, so anyone who can publish to the Redis channel runs code
in every Rasa process (CVE-2025-61765, fixed upstream in 5.14.0). `SignedRedisManager`
keeps python-socketio's pub/sub logic and replaces only the two ends of the wire:

- `_publish` seals each message as tagged JSON (bytes and tuples survive the trip),
  timestamped, with a random nonce, signed with HMAC-SHA256 under a key that all
  replicas share and Redis never sees;
- `_listen` yields only frames that are well formed, small enough, correctly signed,
  fresh and not seen before. Anything else (a pickle, unsigned or tampered JSON, a
  replay) is logged and dropped, never deserialised beyond `json.loads` of an
  authenticated body; the base class then never reaches its own ``pickle.loads``.

Wire format, one Redis message per frame::

    b"fa1." + base64url(HMAC-SHA256(key, SIGNING_CONTEXT + channel + b"\n" + body))
           + b"." + body
    body = UTF-8 JSON {"v": 1, "ts": <unix seconds>, "nonce": <32 hex>, "msg": ...}

`refuse_binary_packets` closes the other 5.8.0 hole that matters here
(CVE-2026-48804, fixed upstream in 5.16.2): a client announcing binary attachments
makes the server keep every attachment until the announced count arrives, without
limit. The web chat never sends binary data, so such a client is disconnected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from socketio import AsyncRedisManager, AsyncServer
from socketio.asyncio_redis_manager import RedisError

logger = logging.getLogger(__name__)

FRAME_PREFIX = b"fa1."
SIGNING_CONTEXT = b"finassist-socketio/1\n"
KEY_DERIVATION_LABEL = b"finassist/socketio-pubsub/v1"
MIN_KEY_BYTES = 32
# A bot turn is a few kilobytes (texts, buttons); socket.io itself refuses client
# packets over max_http_buffer_size (64 KiB here). 1 MiB leaves room, not for abuse.
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024
# Replicas' clocks agree within seconds (NTP); a frame older than this is a replay.
DEFAULT_MAX_AGE_S = 60.0
# Nonces remembered for replay detection; more than a minute of traffic per process.
NONCE_MEMORY = 65536
# The methods python-socketio's pub/sub managers publish (5.8.0 publishes emit,
# callback, disconnect and close_room; enter_room/leave_room appear in later
# releases). Anything else is dropped before the base class sees it.
KNOWN_METHODS = frozenset(
    {"emit", "callback", "disconnect", "close_room", "enter_room", "leave_room"}
)
_BYTES, _TUPLE, _DICT = "$bytes", "$tuple", "$dict"
_TAGS = frozenset({_BYTES, _TUPLE, _DICT})
_SIGNATURE_CHARS = 43  # base64url of 32 bytes, unpadded


class FrameRejected(ValueError):
    """A frame read from Redis that must not be acted upon; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def derive_key(secret: str) -> bytes:
    """A key for the socket.io channel, derived from a secret every replica shares.

    Derived (HMAC with a fixed label), so the shared secret itself never signs
    anything here and a key leaked from this channel reveals nothing of it.

    Args:
        secret: a random secret of 32+ characters that all Rasa replicas hold and
            Redis's clients do not (never the Redis password).

    Returns:
        A 32-byte key for `SignedRedisManager`.

    Raises:
        ValueError: the secret is shorter than 32 characters.
    """
    if len(secret) < MIN_KEY_BYTES:
        raise ValueError("the socket.io signing secret needs 32+ characters")
    return hmac.new(secret.encode("utf-8"), KEY_DERIVATION_LABEL, "sha256").digest()


def encode_value(value: Any) -> Any:
    """A JSON-ready copy of a socket.io payload, with bytes and tuples tagged.

    A tuple means "several arguments" to socket.io and a list one array argument,
    and binary attachments arrive as bytes: plain JSON would lose both. A one-key
    dict whose key starts with ``$`` is wrapped, so it cannot pass for a tag.

    Raises:
        TypeError: a value socket.io could not send as JSON either.
    """
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, tuple):
        return {_TUPLE: [encode_value(item) for item in value]}
    if isinstance(value, list):
        return [encode_value(item) for item in value]
    if isinstance(value, dict):
        encoded = {_json_key(key): encode_value(item) for key, item in value.items()}
        if len(encoded) == 1 and next(iter(encoded)).startswith("$"):
            return {_DICT: encoded}
        return encoded
    raise TypeError(
        f"{type(value).__name__} cannot be sent through the socket.io message queue"
    )


def decode_value(value: Any) -> Any:
    """The payload `encode_value` tagged, restored.

    Raises:
        ValueError: an unknown tag or a malformed tagged value.
    """
    if isinstance(value, list):
        return [decode_value(item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        tag, inner = next(iter(value.items()))
        if tag == _BYTES:
            if not isinstance(inner, str):
                raise ValueError("bytes must be base64 text")
            try:
                return base64.b64decode(inner.encode("ascii"), validate=True)
            except (binascii.Error, UnicodeEncodeError) as exc:
                raise ValueError("bytes are not valid base64") from exc
        if tag == _TUPLE:
            if not isinstance(inner, list):
                raise ValueError("a tuple must be a list")
            return tuple(decode_value(item) for item in inner)
        if tag == _DICT:
            if not isinstance(inner, dict):
                raise ValueError("a wrapped dict must be an object")
            return {key: decode_value(item) for key, item in inner.items()}
        if tag.startswith("$"):
            raise ValueError(f"unknown tag {tag[:20]!r}")
    return {key: decode_value(item) for key, item in value.items()}


def _json_key(key: Any) -> str:
    # The same conversion json.dumps applies, which is what the client would see.
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise TypeError(f"{type(key).__name__} keys cannot be sent as JSON")


class MessageSealer:
    """Seals and opens the frames of one channel under one key (no I/O).

    Args:
        key: 32+ random bytes shared by every process on the channel.
        channel: the Redis channel; part of what is signed, so a frame cannot be
            replayed on another channel that uses the same key.
        max_bytes: the largest frame sealed or opened.
        max_age_s: how old (or how far in the future) a frame may be.
        clock: seconds since the epoch (tests pass their own).
    """

    def __init__(
        self,
        key: bytes,
        channel: str,
        max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_age_s: float = DEFAULT_MAX_AGE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the signing key must be {MIN_KEY_BYTES}+ bytes")
        self._key = key
        self._context = SIGNING_CONTEXT + channel.encode("utf-8") + b"\n"
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __repr__(self) -> str:
        return f"MessageSealer(channel={self._context!r}, key=<hidden>)"

    def seal(self, message: dict[str, Any]) -> bytes:
        """The frame to publish for one manager message.

        Raises:
            TypeError: the message holds a value that JSON cannot carry.
            ValueError: the frame would exceed `max_bytes`.
        """
        envelope = {
            "v": 1,
            "ts": self._clock(),
            "nonce": os.urandom(16).hex(),
            "msg": encode_value(message),
        }
        body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )
        frame = FRAME_PREFIX + self._sign(body) + b"." + body
        if len(frame) > self.max_bytes:
            raise ValueError(
                f"socket.io message of {len(frame)} bytes exceeds {self.max_bytes}"
            )
        return frame

    def open(self, frame: Any) -> dict[str, Any]:
        """The manager message in a frame read from Redis.

        Checks, cheapest first: type and size, the signature (before any parsing),
        JSON, the envelope, freshness, replay, the message's shape.

        Raises:
            FrameRejected: the frame must be dropped; `reason` is safe to log.
        """
        if isinstance(frame, str):
            frame = frame.encode("utf-8")
        if not isinstance(frame, bytes):
            raise FrameRejected("not bytes")
        if len(frame) > self.max_bytes:
            raise FrameRejected("oversized")
        if not frame.startswith(FRAME_PREFIX):
            if frame[:1] == b"\x80":
                raise FrameRejected("pickle payload")
            raise FrameRejected("unsigned")
        signature = frame[len(FRAME_PREFIX) : len(FRAME_PREFIX) + _SIGNATURE_CHARS]
        separator = len(FRAME_PREFIX) + _SIGNATURE_CHARS
        if frame[separator : separator + 1] != b".":
            raise FrameRejected("malformed frame")
        body = frame[separator + 1 :]
        if not hmac.compare_digest(signature, self._sign(body)):
            raise FrameRejected("bad signature")
        try:
            envelope = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise FrameRejected("not JSON") from exc
        if not isinstance(envelope, dict) or envelope.get("v") != 1:
            raise FrameRejected("unknown envelope")
        ts, nonce = envelope.get("ts"), envelope.get("nonce")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            raise FrameRejected("no timestamp")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
            raise FrameRejected("no nonce")
        now = self._clock()
        if abs(now - ts) > self.max_age_s:
            raise FrameRejected("stale")
        self._forget_older_than(now - self.max_age_s)
        if nonce in self._seen:
            raise FrameRejected("replayed")
        try:
            message = decode_value(envelope.get("msg"))
        except (ValueError, RecursionError) as exc:
            raise FrameRejected("malformed message") from exc
        if not isinstance(message, dict) or message.get("method") not in KNOWN_METHODS:
            raise FrameRejected("unknown method")
        self._seen[nonce] = ts
        while len(self._seen) > NONCE_MEMORY:
            self._seen.popitem(last=False)
        return message

    def _sign(self, body: bytes) -> bytes:
        digest = hmac.new(self._key, self._context + body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def _forget_older_than(self, limit: float) -> None:
        # Insertion order is arrival order; timestamps are near-monotonic.
        while self._seen:
            nonce, ts = next(iter(self._seen.items()))
            if ts >= limit:
                break
            del self._seen[nonce]


class SignedRedisManager(AsyncRedisManager):
    """python-socketio's `AsyncRedisManager` speaking signed JSON instead of pickle.

    A drop-in for ``AsyncRedisManager(url, channel=...)`` with one more required
    argument, the shared key. Every process on the channel must use this class and
    the same key: frames from the stock manager (pickles) are dropped.

    Args:
        url: ``redis://`` or ``rediss://`` URL.
        key: 32+ random bytes (`derive_key` makes them from a shared secret).
        channel: the Redis pub/sub channel.
        write_only: publish only, never listen.
        logger: python-socketio's logger argument.
        redis_options: passed to ``redis.asyncio.Redis.from_url``.
        max_message_bytes: the largest frame sent or accepted.
        max_age_s: how old a frame may be (clock skew between replicas included).
    """

    name = "finassist-signed-redis"

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        *,
        key: bytes,
        channel: str = "socketio",
        write_only: bool = False,
        logger: logging.Logger | None = None,
        redis_options: dict[str, Any] | None = None,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        max_age_s: float = DEFAULT_MAX_AGE_S,
    ) -> None:
        self.sealer = MessageSealer(key, channel, max_message_bytes, max_age_s)
        # Reasons of dropped frames, counted (for logs, metrics and tests).
        self.dropped: Counter[str] = Counter()
        super().__init__(
            url,
            channel=channel,
            write_only=write_only,
            logger=logger,
            redis_options=redis_options,
        )

    async def _publish(self, data: dict[str, Any]) -> Any:
        """Publish one message, sealed; the retry logic is the base class's."""
        frame = self.sealer.seal(data)
        retry = True
        while True:
            try:
                if not retry:
                    self._redis_connect()
                return await self.redis.publish(self.channel, frame)
            except RedisError:
                if retry:
                    self._get_logger().error("Cannot publish to redis... retrying")
                    retry = False
                else:
                    self._get_logger().error("Cannot publish to redis... giving up")
                    break

    async def _listen(self) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        """Frames that passed every check, as dicts; the rest is logged and dropped.

        Yielding dicts means the base class's listener never tries ``pickle.loads``.
        """
        async for frame in super()._listen():
            try:
                yield self.sealer.open(frame)
            except FrameRejected as rejected:
                self.dropped[rejected.reason] += 1
                size = len(frame) if isinstance(frame, bytes | str) else -1
                logger.warning(
                    "socket.io pub/sub: dropped a %s frame of %d bytes on %s",
                    rejected.reason,
                    size,
                    self.channel,
                )


# socket.io packet types 5 and 6 (BINARY_EVENT, BINARY_ACK) announce attachments.
_BINARY_PACKET_TYPES = ("5", "6")


def refuse_binary_packets(sio: AsyncServer) -> None:
    """Disconnect clients that send socket.io binary packets (CVE-2026-48804).

    python-socketio 5.8.0 buffers the attachments a binary packet announces, as many
    as it announces; FinAssist's customers only send JSON, so a binary packet, or a
    binary engine.io message, ends the connection before anything is buffered. Call
    once, after the server is built (it replaces the engine.io message handler).
    """
    handle = sio._handle_eio_message

    async def guarded(eio_sid: str, data: Any) -> Any:
        if isinstance(data, bytes) or (
            isinstance(data, str) and data[:1] in _BINARY_PACKET_TYPES
        ):
            sio._binary_packet.pop(eio_sid, None)
            logger.warning("socket.io: a binary packet was refused, client dropped")
            await sio.eio.disconnect(eio_sid)
            return None
        return await handle(eio_sid, data)

    sio.eio.on("message", guarded)
