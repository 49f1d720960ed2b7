"""A client for any OpenAI-compatible `/v1/chat/completions` server.

vLLM, Ollama or a vendor API: one time budget per answer, bounded retries with back-off,
and a circuit breaker so that a failing server costs customers nothing while it is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from actions.errors import BotError


class LLMUnavailable(BotError):
    """The language model is off, slow, failing or its circuit is open."""


class CircuitBreaker:
    """Opens after `threshold` failures in a row; closes again on a success.

    After `cooldown_s` one call is let through (half-open).
    """

    def __init__(
        self,
        threshold: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold, self._cooldown, self._clock = threshold, cooldown_s, clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def is_open(self) -> bool:
        """Whether calls are refused right now."""
        if self._opened_at is None:
            return False
        return self._clock() - self._opened_at < self._cooldown

    def record_success(self) -> None:
        """A call worked: close the circuit."""
        self._failures, self._opened_at = 0, None

    def record_failure(self) -> None:
        """A call failed: open the circuit after `threshold` failures in a row."""
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()


class ChatClient:
    """Async client of an OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: server root, e.g. ``http://127.0.0.1:8000`` (``/v1`` is added).
        model: the model name the server expects.
        api_key: bearer key, empty for local servers.
        timeout_s: the whole budget of one answer, retries included.
        retries: extra attempts after a failure.
        breaker: shared circuit breaker.
        transport: an httpx transport (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout_s: float = 8.0,
        retries: int = 1,
        breaker: CircuitBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers=headers, transport=transport
        )
        self._model, self._timeout, self._retries = model, timeout_s, retries
        self.breaker = breaker or CircuitBreaker()

    async def complete(self, messages: Sequence[dict[str, Any]]) -> str:
        """The model's answer to a chat.

        Raises:
            LLMUnavailable: the circuit is open, the budget ran out, or every attempt
                failed.
        """
        if self.breaker.is_open:
            raise LLMUnavailable("circuit open")
        deadline = time.monotonic() + self._timeout
        body = {
            "model": self._model,
            "messages": list(messages),
            "temperature": 0.2,
            "max_tokens": 400,
        }
        for attempt in range(self._retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                # wait_for holds the budget whatever the transport does.
                response = await asyncio.wait_for(
                    self._http.post(
                        "/v1/chat/completions", json=body, timeout=remaining
                    ),
                    timeout=remaining,
                )
                response.raise_for_status()
                text = response.json()["choices"][0]["message"]["content"]
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("empty answer")
                self.breaker.record_success()
                return text.strip()
            except (
                httpx.HTTPError,
                asyncio.TimeoutError,
                KeyError,
                IndexError,
                TypeError,
                ValueError,
            ):
                pause = min(0.25 * 2**attempt, max(0.0, deadline - time.monotonic()))
                if attempt < self._retries and pause > 0:
                    await asyncio.sleep(pause)
        self.breaker.record_failure()
        raise LLMUnavailable("no answer within the time budget")

    async def close(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()
