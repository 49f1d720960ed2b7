"""Errors the capability modules raise; dialogue actions turn them into replies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class BotError(Exception):
    """Base class of every error an action may turn into a customer reply."""


class ServiceUnavailable(BotError):
    """A backing service (profile database, ...) cannot be reached."""


class TransferRejected(BotError):
    """A transfer request breaks a rule; `reason` names the reply to give."""

    def __init__(
        self, reason: str, message: str = "", details: Sequence[Any] = ()
    ) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.details = list(details)  # e.g. the risk rules that fired
