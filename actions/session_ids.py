"""Conversation ids of the web chat, issued by the server and checked on every use.

A socket.io client used to name its own conversation (`session_id`) and could name
anybody's: it then received that conversation's replies and posted into it. Ids are
now made by the server: 32 random hex digits and an HMAC of them under a key derived
from the login-token key (shared by every replica), so a browser can take its own id
back after a reload or a reconnection, but nobody can invent or guess one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_SHAPE = re.compile(r"^[0-9a-f]{32}\.[0-9a-f]{32}$")
LENGTH = 65
_PURPOSE = b"finassist socket.io session ids v1"


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()


def _signature(key: bytes, nonce: str) -> str:
    return hmac.new(key, nonce.encode("ascii"), hashlib.sha256).hexdigest()[:32]


class SessionIds:
    """Issues and checks the web chat's conversation ids."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("a session-id key is required")
        self._key = _key(secret)

    def issue(self) -> str:
        """A new conversation id: ``<32 hex>.<32 hex signature>``."""
        nonce = secrets.token_hex(16)
        return f"{nonce}.{_signature(self._key, nonce)}"

    def is_valid(self, value: object) -> bool:
        """Whether `value` is an id this server (or a replica) issued."""
        if not isinstance(value, str) or len(value) != LENGTH:
            return False
        if not _SHAPE.match(value):
            return False
        nonce, signature = value.split(".")
        return hmac.compare_digest(signature, _signature(self._key, nonce))
