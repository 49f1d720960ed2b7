"""A SQL tracker store that never writes personal data to the database.

Every stored event is a masked copy: card, ID, phone, e-mail and account numbers in any
text or slot value are replaced (`actions.pii.mask_pii`) and login tokens are dropped.
The live tracker in memory is untouched, so NLU and the actions still see the message.
Configured in `endpoints.yml` with one URL, `TRACKER_DB_URL` (SQLite or PostgreSQL).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import make_url

from actions.pii import mask_pii

SECRET_KEYS = frozenset({"auth_token", "token", "password"})
# Set on a tracker this store read or wrote: how many of its events are stored.
_STORED = "_finassist_stored_events"
# Set during a save: the masked copies of the new events, for the broker and the table.
_MASKED = "_finassist_masked_events"


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

    async def _retrieve(
        self, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        """Rasa's retrieve, reading only the events' JSON, and remembering their count.

        Rasa's query loads every row as an ORM object (id, sender, type, timestamp,
        names, data) only to read `data`: a third of the read's time (`make bench`).
        The same query (latest session, in id order) now selects that column alone.

        The latest session's tracker holds exactly the stored rows, so its `save` knows
        which events are new without counting them in the database again.
        """
        with self.session_scope() as session:
            rows = (
                self._event_query(session, sender_id, fetch_events_from_all_sessions)
                .with_entities(self.SQLEvent.data)
                .all()
            )
        events = [json.loads(data) for (data,) in rows]
        if not self.domain or not events:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, events, self.domain.slots)
        if not fetch_events_from_all_sessions:
            setattr(tracker, _STORED, len(tracker.events))
        return tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store (and publish) the new events; afterwards all of them are stored."""
        try:
            await super().save(tracker)
        finally:
            if hasattr(tracker, _MASKED):
                delattr(tracker, _MASKED)
        setattr(tracker, _STORED, len(tracker.events))

    @staticmethod
    def _masked_new_events(
        tracker: DialogueStateTracker, stored: int
    ) -> list[_MaskedEvent]:
        """Masked copies of the events after the first `stored` ones.

        Made once per save, for both the broker and the table.
        """
        made = getattr(tracker, _MASKED, None)
        if made is None or made[:2] != (stored, len(tracker.events)):
            events = itertools.islice(tracker.events, stored, None)
            made = (stored, len(tracker.events), [_MaskedEvent(e) for e in events])
            setattr(tracker, _MASKED, made)
        return made[2]

    @staticmethod
    def _known_stored(tracker: DialogueStateTracker) -> int | None:
        """How many of the tracker's events are stored, if this process knows.

        It knows when it read or wrote the tracker: Rasa's lock store (Redis across
        replicas) keeps anyone else from writing to the conversation meanwhile, and an
        erasure in between is not undone by storing the erased events again. Otherwise
        one COUNT query finds out, as in Rasa, which counted twice per save, once to
        store and once to publish (`make bench`).
        """
        known = getattr(tracker, _STORED, None)
        return known if known is not None and known <= len(tracker.events) else None

    def _stored_count(self, session: Any, tracker: DialogueStateTracker) -> int:
        known = self._known_stored(tracker)
        if known is not None:
            return known
        return self._event_query(
            session, tracker.sender_id, fetch_events_from_all_sessions=False
        ).count()

    def _additional_events(
        self, session: Any, tracker: DialogueStateTracker
    ) -> Iterator[Any]:
        yield from self._masked_new_events(
            tracker, self._stored_count(session, tracker)
        )

    async def stream_events(self, tracker: DialogueStateTracker) -> None:
        """Publish the events not stored yet to the event broker, masked.

        Rasa finds them by reading the whole stored conversation back and rebuilding
        its tracker on every save; they are the events after the stored ones.
        """
        if self.event_broker is None:
            return
        stored = self._known_stored(tracker)
        if stored is None:
            with self.session_scope() as session:
                stored = self._stored_count(session, tracker)
            setattr(tracker, _STORED, stored)  # `save` stores from here: no recount
        await self._stream_new_events(
            self.event_broker,
            self._masked_new_events(tracker, stored),  # type: ignore[arg-type]
            tracker.sender_id,
        )
