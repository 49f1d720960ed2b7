"""Errors the capability modules raise; dialogue actions turn them into replies."""


class BotError(Exception):
    """Base class of every error an action may turn into a customer reply."""


class ServiceUnavailable(BotError):
    """A backing service (profile database, ...) cannot be reached."""


class TransferRejected(BotError):
    """A transfer request breaks a rule; `reason` names the reply to give."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
