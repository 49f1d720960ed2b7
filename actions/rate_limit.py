"""Rate limits per kind of key, in one process or shared by every replica (Redis).

A limit is counted per (kind, value): ``("sender", "app-c001-1")``, ``("ip",
"203.0.113.9")``, ``("socket", sid)``. Kinds are fixed names chosen by the code, never
by a client, so a sender called ``ip:127.0.0.1`` spends only its own budget.

Production shares the counts through Redis (`RATE_LIMIT_REDIS_URL`), so that a client
cannot multiply its budget by the number of replicas behind the load balancer. Redis
counts a sliding window approximated from two fixed one-minute windows. When Redis does
not answer, the process falls back to its own counts (and says so in the log) rather
than refusing every customer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict, deque
from typing import Any, Protocol

logger = logging.getLogger(__name__)
WINDOW_S = 60.0
SWEEP_EVERY = 10_000  # tracked keys between sweeps of idle ones
KINDS = frozenset({"sender", "ip", "socket", "socket_session", "connect_ip"})


class Limiter(Protocol):
    """Counts one event for a key and says whether it is within `per_minute`."""

    async def allow(self, kind: str, value: str, per_minute: int) -> bool: ...


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown rate-limit kind {kind!r}")


class MemoryLimiter:
    """Sliding one-minute windows in this process (thread-safe, bounded memory)."""

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._sent: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._next_sweep = SWEEP_EVERY

    def allow_now(self, kind: str, value: str, per_minute: int) -> bool:
        """Count one event; False once the key is over `per_minute` in a minute.

        Keys idle for a minute are forgotten in a sweep every SWEEP_EVERY new keys,
        so memory stays bounded whatever ids clients invent.
        """
        _check_kind(kind)
        now = self._clock()
        with self._lock:
            sent = self._sent[(kind, value)]
            while sent and now - sent[0] >= WINDOW_S:
                sent.popleft()
            sent.append(now)
            # A flood keeps at most one entry beyond the limit per key.
            while len(sent) > per_minute + 1:
                sent.popleft()
            if len(self._sent) >= self._next_sweep:
                for idle in [k for k, v in self._sent.items() if now - v[-1] >= 60]:
                    del self._sent[idle]
                self._next_sweep = len(self._sent) + SWEEP_EVERY
            return len(sent) <= per_minute

    async def allow(self, kind: str, value: str, per_minute: int) -> bool:
        return self.allow_now(kind, value, per_minute)

    def tracked(self) -> int:
        """How many keys are held (for the memory-bound test)."""
        return len(self._sent)


class RedisLimiter:
    """Counts shared by every process through Redis; this process's own on failure."""

    def __init__(
        self,
        url: str,
        prefix: str = "finassist:rl",
        fallback: MemoryLimiter | None = None,
        clock: Any = time.time,
        client: Any = None,
    ) -> None:
        if client is None:
            import redis.asyncio as aioredis

            client = aioredis.from_url(
                url, socket_timeout=0.5, socket_connect_timeout=0.5
            )
        self._redis = client
        self._prefix = prefix
        self._fallback = fallback or MemoryLimiter()
        self._clock = clock
        self._warned_at = 0.0

    def _key(self, kind: str, value: str, window: int) -> str:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{self._prefix}:{kind}:{digest[:32]}:{window}"

    async def allow(self, kind: str, value: str, per_minute: int) -> bool:
        _check_kind(kind)
        now = self._clock()
        window = int(now // WINDOW_S)
        elapsed = (now % WINDOW_S) / WINDOW_S
        current, previous = (
            self._key(kind, value, window),
            self._key(kind, value, window - 1),
        )
        try:
            pipe = self._redis.pipeline()
            pipe.incr(current)
            pipe.expire(current, int(WINDOW_S * 2))
            pipe.get(previous)
            count, _, before = await pipe.execute()
        except Exception as exc:  # any Redis failure: keep serving with local counts
            if now - self._warned_at > WINDOW_S:
                logger.warning(
                    "rate limits: Redis unavailable (%s), counting per process",
                    type(exc).__name__,
                )
                self._warned_at = now
            return self._fallback.allow_now(kind, value, per_minute)
        estimate = int(count) + int(before or 0) * (1.0 - elapsed)
        return estimate <= per_minute

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.close()
