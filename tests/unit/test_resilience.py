"""Dependency failures inside the Rasa server are reported, never hidden (addons/resilience)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.actions import action as rasa_action
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import EndpointConfig

import addons  # noqa: F401  (installs the patches, as the Rasa server does)
from addons import resilience
from addons.resilience import ConversationStoreUnavailable


class BrokenStore(InMemoryTrackerStore):
    async def save(self, tracker: DialogueStateTracker) -> None:
        raise OSError("disk gone")

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        raise OSError("disk gone")


async def test_a_failing_store_fails_the_turn_and_keeps_nothing_in_memory() -> None:
    store = FailSafeTrackerStore(BrokenStore(Domain.empty()))
    tracker = DialogueStateTracker.from_events("c-1", [])
    with resilience.turn_outages() as outages:
        with pytest.raises(ConversationStoreUnavailable):
            await store.retrieve("c-1")  # Rasa: None, i.e. a new empty conversation
        with pytest.raises(ConversationStoreUnavailable):
            await store.save(tracker)  # Rasa: saved to an unbounded in-memory store
    assert outages == ["conversation_store"]
    assert store._fallback_tracker_store is None  # no in-memory copy was made


async def test_an_unreachable_action_server_is_noted_for_the_turn() -> None:
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")  # nothing listens there
    action = RemoteAction("action_check_balance", endpoint)
    tracker = DialogueStateTracker.from_events("c-2", [])
    with resilience.turn_outages() as outages:
        with pytest.raises(RasaException):
            await action.run(None, None, tracker, Domain.empty())
    assert outages == ["action_server"]


async def test_a_hung_action_server_times_out_in_seconds(monkeypatch) -> None:
    async def hang(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise asyncio.TimeoutError

    assert rasa_action.DEFAULT_REQUEST_TIMEOUT < 60  # Rasa's own: 300 s
    endpoint = EndpointConfig("http://127.0.0.1:1/webhook")
    monkeypatch.setattr(endpoint, "request", hang)
    action = RemoteAction("action_check_balance", endpoint)
    with resilience.turn_outages() as outages:
        with pytest.raises(RasaException, match="timed out"):
            await action.run(
                None, None, DialogueStateTracker.from_events("c", []), Domain.empty()
            )
    assert outages == ["action_server"]


def test_outages_outside_a_turn_are_ignored() -> None:
    resilience.note_outage("action_server")  # no turn under way: nothing to record
    with resilience.turn_outages() as outages:
        pass
    assert outages == []


def test_the_patches_refuse_another_rasa_version() -> None:
    from addons.patches import UnverifiedRasaVersion, install_all

    with pytest.raises(UnverifiedRasaVersion, match="3.6.21"):
        install_all("3.7.0")
