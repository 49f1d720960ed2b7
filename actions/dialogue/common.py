"""What every FinAssist action shares: language, identity, blocking calls, errors."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.errors import BotError
from actions.identity import customer_from_conversation
from actions.profile_db.repository import ProfileRepository
from actions.settings import get_settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
EventList = list[dict[str, Any]]


def language_of(tracker: Tracker) -> str:
    """The customer's language for this turn (set from every message by NLU)."""
    lang = tracker.get_slot("language")
    return lang if lang in ("zh", "en") else "zh"


def customer_of(tracker: Tracker, at_session_start: bool = False) -> str | None:
    """The verified customer behind this turn (the token on its message), or None."""
    settings = get_settings()
    return customer_from_conversation(
        tracker.events,
        tracker.sender_id,
        tracker.get_slot("session_started_metadata"),
        settings.jwt_secret,
        allow_shell=settings.shell_identity,
        at_session_start=at_session_start,
    )


def channel_of(tracker: Tracker) -> str:
    """The input channel of the latest message (rest, socketio, cmdline, ...)."""
    return tracker.get_latest_input_channel() or "unknown"


def today_local() -> date:
    """Today's date in the bank's time zone."""
    return datetime.now(services.local_zone()).date()


async def blocking(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking (database) call off the event loop, so other chats go on."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def latest_entity(tracker: Tracker, name: str) -> str | None:
    """The value of an entity in the latest message, if any."""
    return next(tracker.get_latest_entity_values(name), None)


def is_follow_up(tracker: Tracker) -> bool:
    """Whether the latest message only adds slot values to the topic under way."""
    return (tracker.latest_message.get("intent") or {}).get("name") == "inform"


class CustomerAction(Action, ABC):
    """An action about the logged-in customer's own data.

    Asks anonymous customers to log in, and turns service errors into a polite reply
    instead of a stack trace.
    """

    def __init__(self, repo: ProfileRepository | None = None) -> None:
        self._repo = repo

    @property
    def repo(self) -> ProfileRepository:
        """The injected repository, or the process-wide one."""
        return self._repo or services.profile_repository()

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    @abstractmethod
    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        """Answer for a verified customer; returns the events to apply."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """Check identity, then serve; errors become `utter_service_unavailable`."""
        customer_id = customer_of(tracker)
        if customer_id is None:
            dispatcher.utter_message(response="utter_login_required")
            return []
        try:
            return await self.serve(
                dispatcher, tracker, customer_id, language_of(tracker)
            )
        except BotError as exc:
            logger.warning(
                "%s failed for a customer: %s", self.name(), type(exc).__name__
            )
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
