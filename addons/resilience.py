"""How the Rasa server behaves when a dependency fails: loudly, briefly, never silently.

Rasa 3.6's own behaviour, and what changes here (installed by `addons.install`,
checked against the Rasa version it was written for):

- A custom-action call that cannot reach the action server is logged and the turn
  goes on without it, so the customer got nothing (REST ``200 []``). Each failed call
  is now noted for the turn (`turn_outages`), and the customer channels tell the
  customer (addons/channels.py). A call that hangs waits `ACTION_TIMEOUT_S` (Rasa:
  300 s), and a time-out is reported like any other failure of the call (Rasa let
  it escape some of its callers).
- `FailSafeTrackerStore` turns a failed read into an empty conversation and a failed
  save into an unbounded in-memory copy, so the customer talked to a bot that had
  forgotten them, and the conversation was lost at the next restart. A failing
  conversation store now fails the turn: the customer is told to send the message
  again, and nothing is kept anywhere but the real store.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from rasa.core import tracker_store as rasa_tracker_store
from rasa.core.actions import action as rasa_action
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.exceptions import RasaException

logger = logging.getLogger(__name__)
_OUTAGES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "finassist_turn_outages", default=None
)
_RUN_REMOTE = RemoteAction.run


class ConversationStoreUnavailable(RasaException):
    """The conversation (tracker) store failed; the turn cannot go on."""


@contextlib.contextmanager
def turn_outages() -> Iterator[list[str]]:
    """Collect the dependencies that failed during one customer turn."""
    found: list[str] = []
    token = _OUTAGES.set(found)
    try:
        yield found
    finally:
        _OUTAGES.reset(token)


def note_outage(what: str) -> None:
    """Record a failed dependency for the turn under way (if any)."""
    found = _OUTAGES.get()
    if found is not None and what not in found:
        found.append(what)


async def _run_remote(self: RemoteAction, *args: Any, **kwargs: Any) -> Any:
    try:
        return await _RUN_REMOTE(self, *args, **kwargs)
    except ActionExecutionRejection:
        raise  # a form rejecting a value: the dialogue handles it
    except (asyncio.TimeoutError, TimeoutError) as exc:
        note_outage("action_server")
        raise RasaException(
            f"custom action '{self.name()}' timed out after "
            f"{rasa_action.DEFAULT_REQUEST_TIMEOUT} s"
        ) from exc
    except Exception:
        note_outage("action_server")
        raise


class _RaisingFailSafe:
    """`FailSafeTrackerStore` methods that report a failure instead of hiding it."""

    @staticmethod
    async def retrieve(self: Any, sender_id: str) -> Any:
        try:
            return await self._tracker_store.retrieve(sender_id)
        except Exception as exc:
            raise _store_failed("read", exc) from exc

    @staticmethod
    async def retrieve_full_tracker(self: Any, sender_id: str) -> Any:
        try:
            return await self._tracker_store.retrieve_full_tracker(sender_id)
        except Exception as exc:
            raise _store_failed("read", exc) from exc

    @staticmethod
    async def save(self: Any, tracker: Any) -> None:
        try:
            await self._tracker_store.save(tracker)
        except Exception as exc:
            raise _store_failed("save", exc) from exc

    @staticmethod
    async def keys(self: Any) -> Any:
        try:
            return await self._tracker_store.keys()
        except Exception as exc:
            raise _store_failed("list", exc) from exc


def _store_failed(what: str, exc: Exception) -> ConversationStoreUnavailable:
    note_outage("conversation_store")
    logger.error(
        "conversation store failed to %s a conversation (%s): the turn is refused, "
        "nothing is kept in memory",
        what,
        type(exc).__name__,
    )
    return ConversationStoreUnavailable(f"conversation store failed to {what}")


def install(action_timeout_s: float) -> None:
    """Install the behaviours above (idempotent)."""
    rasa_action.DEFAULT_REQUEST_TIMEOUT = max(1.0, action_timeout_s)
    RemoteAction.run = _run_remote  # type: ignore[method-assign]
    fail_safe = rasa_tracker_store.FailSafeTrackerStore
    for name in ("retrieve", "retrieve_full_tracker", "save", "keys"):
        setattr(fail_safe, name, getattr(_RaisingFailSafe, name))
