"""A SQL tracker store that never writes personal data to the database.

Every stored event is a masked copy: card, ID, phone, e-mail and account numbers in any
text or slot value are replaced (`actions.pii.mask_pii`) and login tokens are dropped.
The live tracker in memory is untouched, so NLU and the actions still see the message.
Configured in `endpoints.yml` with one URL, `TRACKER_DB_URL` (SQLite or PostgreSQL).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from actions.pii import mask_pii

SECRET_KEYS = frozenset({"auth_token", "token", "password"})


def mask_value(value: Any) -> Any:
    """A copy of a JSON-like value with personal data masked and secrets dropped."""
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {
            k: "[REDACTED]" if k in SECRET_KEYS and v else mask_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_value(v) for v in value]
    return value


class _MaskedEvent:
    """What `SQLTrackerStore.save` reads of an event: its type and its masked dict."""

    def __init__(self, event: Any) -> None:
        self.type_name = event.type_name
        # mask_value builds new dicts and lists: the live event is never changed.
        self._data = mask_value(event.as_dict())

    def as_dict(self) -> dict[str, Any]:
        return self._data


class MaskingSQLTrackerStore(SQLTrackerStore):
    """`SQLTrackerStore` from a URL, storing masked events only."""

    def __init__(
        self,
        domain: Domain | None = None,
        host: str | None = None,
        event_broker: EventBroker | None = None,
        **kwargs: Any,
    ) -> None:
        url = make_url(host or "sqlite:///trackers.db")
        super().__init__(
            domain=domain,
            dialect=url.drivername.split("+")[0],
            host=url.host,
            port=url.port,
            db=url.database or "trackers.db",
            username=url.username,
            password=url.password,
            event_broker=event_broker,
            **kwargs,
        )

    def _additional_events(
        self, session: Any, tracker: DialogueStateTracker
    ) -> Iterator[Any]:
        for event in super()._additional_events(session, tracker):
            yield _MaskedEvent(event)

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the events not stored yet to the event broker, masked.

        Rasa finds them by reading the whole stored conversation back and rebuilding
        its tracker on every save; they are the events after the stored ones, so one
        COUNT query finds them (the same count `save` uses). With a broker this halves
        the tracker reads per turn (`make bench`).
        """
        if self.event_broker is None:
            return
        with self.session_scope() as session:
            stored = self._event_query(
                session, tracker.sender_id, fetch_events_from_all_sessions=False
            ).count()
        new_events = list(itertools.islice(tracker.events, stored, None))
        await self._stream_new_events(
            self.event_broker,
            [_MaskedEvent(e) for e in new_events],  # type: ignore[misc]
            tracker.sender_id,
        )
