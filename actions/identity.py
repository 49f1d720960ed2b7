"""Who the customer is: signed HS256 login tokens, never the sender id or the text."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt

ALGORITHM = "HS256"
ISSUER = "finassist-demo-idp"
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
SHELL_CHANNEL = "cmdline"
MAX_TOKEN_CHARS = 4096


def issue_token(
    customer_id: str, secret: str, ttl_minutes: int, now: datetime | None = None
) -> str:
    """Sign a login token for a customer (what the bank's app would hold).

    Args:
        customer_id: the token's subject.
        secret: the HS256 key shared with the action server.
        ttl_minutes: lifetime of the token.
        now: issue time (tests pass a fixed one).

    Returns:
        The encoded JWT.
    """
    issued = now or datetime.now(timezone.utc)
    claims = {
        "sub": customer_id,
        "iss": ISSUER,
        "iat": issued,
        "exp": issued + timedelta(minutes=ttl_minutes),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


@dataclass(frozen=True)
class Login:
    """A verified login token: whose it is and when it was issued."""

    customer_id: str
    issued_at: int  # seconds since the epoch (0 when the token does not say)


def verify_login(token: Any, secret: str) -> Login | None:
    """The customer and issue time of a valid, unexpired token, else None."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    if not _JWT_SHAPE.match(token):
        return None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.PyJWTError:
        return None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 64:
        return None
    issued = claims.get("iat")
    return Login(subject, int(issued) if isinstance(issued, int | float) else 0)


def verify_token(token: Any, secret: str) -> str | None:
    """Return the customer id of a valid, unexpired token, else None."""
    login = verify_login(token, secret)
    return login.customer_id if login else None


def _latest_user_event(events: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    for event in reversed(events):
        if event.get("event") == "user":
            return event
    return None


def customer_from_conversation(
    events: Sequence[Mapping[str, Any]],
    sender_id: str,
    session_metadata: Mapping[str, Any] | None,
    secret: str,
    allow_shell: bool = False,
    at_session_start: bool = False,
) -> str | None:
    """Find the verified customer behind a conversation turn.

    The token is taken from the latest message's ``metadata.auth_token``: every message
    must carry it, so a message without one (or someone posting into another
    customer's conversation id) is anonymous. `action_session_start` runs before the
    message is recorded, so it passes `at_session_start` to use the metadata that
    started the session instead. Testers on ``rasa shell`` (which cannot send
    metadata) may pass a token as the conversation id, when `allow_shell` is set.

    Args:
        events: the tracker's events (dicts).
        sender_id: the conversation id.
        session_metadata: the ``session_started_metadata`` slot.
        secret: the HS256 key.
        allow_shell: accept a token as the conversation id on the shell channel.
        at_session_start: called by `action_session_start`.

    Returns:
        The customer id, or None when nobody is logged in.
    """
    latest = _latest_user_event(events) or {}
    if at_session_start:
        candidates = [(session_metadata or {}).get("auth_token")]
    else:
        candidates = [(latest.get("metadata") or {}).get("auth_token")]
    if allow_shell and latest.get("input_channel") == SHELL_CHANNEL:
        candidates.append(sender_id)
    for token in candidates:
        customer = verify_token(token, secret)
        if customer:
            return customer
    return None
