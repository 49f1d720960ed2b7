"""Which customer a conversation belongs to, and which logins no longer count.

A conversation belongs to the first customer verified in it, for good.

The identity on a message is read from its login token, but a conversation id is
chosen by the client (REST) or held by a browser (socket.io), so another customer's
valid token could be posted into it. The first verified customer of a conversation
becomes its owner; from then on only the owner's token is accepted in it (another
identity, or none, is refused before the dialogue sees the message), and erasure
finds a customer's conversations here rather than in what was said in them.

Erasure revokes every login token the customer held until then, so an old token
cannot bring their personal data back.

The tables live in the conversation store's database (`TRACKER_DB_URL`), next to the
events they protect, and are shared by every replica. An owner never changes, so each
process remembers the owners it has seen; a revocation is seen by every process within
`REVOCATION_TTL_S`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from actions.errors import ServiceUnavailable

CACHE_SIZE = 50_000
REVOCATION_TTL_S = 1.0

metadata = MetaData()
conversation_owners = Table(
    "conversation_owners",
    metadata,
    Column("conversation_id", String(255), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("bound_at", DateTime(timezone=True), nullable=False),
)

revoked_logins = Table(
    "revoked_logins",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    # Tokens issued at or before this second are refused.
    Column("revoked_before", Integer, nullable=False),
)

OK = "ok"
FOREIGN = "foreign_identity"
LOGIN_REQUIRED = "login_required"


class ConversationOwners:
    """The owner of each conversation, bound once (thread-safe)."""

    def __init__(self, engine: Engine, cache_size: int = CACHE_SIZE) -> None:
        self._engine = engine
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._created = False

    def _ensure_table(self) -> None:
        if not self._created:
            metadata.create_all(self._engine, checkfirst=True)
            self._created = True

    def _remember(self, conversation_id: str, customer_id: str) -> None:
        with self._lock:
            self._cache[conversation_id] = customer_id
            self._cache.move_to_end(conversation_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def owner(self, conversation_id: str) -> str | None:
        """The conversation's owner, or None while nobody verified has written in it.

        Raises:
            ServiceUnavailable: the database does not answer.
        """
        with self._lock:
            known = self._cache.get(conversation_id)
        if known is not None:
            return known
        try:
            self._ensure_table()
            with self._engine.connect() as conn:
                found = conn.execute(
                    select(conversation_owners.c.customer_id).where(
                        conversation_owners.c.conversation_id == conversation_id
                    )
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("conversation owners unavailable") from exc
        if found is not None:
            self._remember(conversation_id, found)
        return found

    def claim(self, conversation_id: str, customer_id: str) -> str:
        """Bind the conversation to `customer_id` unless it has an owner already.

        Returns:
            The owner after the claim: `customer_id`, or whoever was first (another
            replica may have bound it a moment earlier).

        Raises:
            ServiceUnavailable: the database does not answer.
        """
        current = self.owner(conversation_id)
        if current is not None:
            return current
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(conversation_owners).values(
                        conversation_id=conversation_id,
                        customer_id=customer_id,
                        bound_at=datetime.now(timezone.utc),
                    )
                )
        except IntegrityError:  # somebody else was first
            pass
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("conversation owners unavailable") from exc
        winner = self.owner(conversation_id)
        return winner if winner is not None else customer_id

    def verdict(self, conversation_id: str, customer_id: str | None) -> str:
        """May a message of `customer_id` (None: anonymous) go into the conversation?

        Returns:
            ``ok``; ``foreign_identity`` when another customer owns it; or
            ``login_required`` when an owned conversation gets a message without a
            valid token.
        """
        if customer_id is None:
            return OK if self.owner(conversation_id) is None else LOGIN_REQUIRED
        owner = self.claim(conversation_id, customer_id)
        return OK if owner == customer_id else FOREIGN

    def conversations_of(self, customer_id: str) -> list[str]:
        """Every conversation the customer owns (for erasure)."""
        self._ensure_table()
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    select(conversation_owners.c.conversation_id).where(
                        conversation_owners.c.customer_id == customer_id
                    )
                ).scalars()
            )

    def owners_of(self, conversation_ids: list[str]) -> dict[str, str]:
        """The owners of the given conversations that have one."""
        if not conversation_ids:
            return {}
        self._ensure_table()
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    conversation_owners.c.conversation_id,
                    conversation_owners.c.customer_id,
                ).where(conversation_owners.c.conversation_id.in_(conversation_ids))
            )
            return {row[0]: row[1] for row in rows}

    def forget_customer(self, customer_id: str) -> int:
        """Delete the customer's bindings (erasure); returns how many went."""
        self._ensure_table()
        with self._engine.begin() as conn:
            gone = conn.execute(
                delete(conversation_owners).where(
                    conversation_owners.c.customer_id == customer_id
                )
            ).rowcount
        with self._lock:
            for key in [k for k, v in self._cache.items() if v == customer_id]:
                del self._cache[key]
        return int(gone or 0)


class LoginRevocations:
    """Login tokens refused although their signature and expiry are fine."""

    def __init__(self, engine: Engine, ttl_s: float = REVOCATION_TTL_S) -> None:
        self._engine = engine
        self._ttl = ttl_s
        self._seen: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._created = False

    def _ensure_table(self) -> None:
        if not self._created:
            metadata.create_all(self._engine, checkfirst=True)
            self._created = True

    def revoked_before(self, customer_id: str) -> int:
        """Tokens of the customer issued at or before this second are void (0: none).

        Raises:
            ServiceUnavailable: the database does not answer.
        """
        now = time.monotonic()
        with self._lock:
            cached = self._seen.get(customer_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            self._ensure_table()
            with self._engine.connect() as conn:
                found = conn.execute(
                    select(revoked_logins.c.revoked_before).where(
                        revoked_logins.c.customer_id == customer_id
                    )
                ).scalar_one_or_none()
        except SQLAlchemyError as exc:
            raise ServiceUnavailable("login revocations unavailable") from exc
        value = int(found or 0)
        with self._lock:
            self._seen[customer_id] = (now, value)
            self._seen.move_to_end(customer_id)
            while len(self._seen) > CACHE_SIZE:
                self._seen.popitem(last=False)
        return value

    def is_revoked(self, customer_id: str, issued_at: int) -> bool:
        """Whether a token of `customer_id` issued at `issued_at` is void."""
        before = self.revoked_before(customer_id)
        return before > 0 and issued_at <= before

    def revoke(self, customer_id: str, at: int | None = None) -> None:
        """Void every token of the customer issued until now (erasure)."""
        second = int(at if at is not None else time.time())
        self._ensure_table()
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(revoked_logins)
                .where(revoked_logins.c.customer_id == customer_id)
                .values(revoked_before=second)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(revoked_logins).values(
                        customer_id=customer_id, revoked_before=second
                    )
                )
        with self._lock:
            self._seen.pop(customer_id, None)
