"""Build rasa-sdk trackers in code for action tests."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker

from actions.language import detect_language


def make_tracker(
    *,
    text: str = "",
    intent: str = "inform",
    entities: list[dict[str, Any]] | None = None,
    slots: dict[str, Any] | None = None,
    token: str | None = None,
    sender_id: str = "test-conversation",
    input_channel: str = "rest",
    active_loop: str | None = None,
    session_metadata: dict[str, Any] | None = None,
    timestamp: float = 1_700_000_000.0,
) -> Tracker:
    """A tracker whose latest message is `text`, as Rasa would send it to actions."""
    language = detect_language(text)
    parse = {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0},
        "entities": entities or [],
        "language": language,
    }
    metadata = {"auth_token": token} if token else {}
    events = [
        {"event": "action", "name": "action_listen", "timestamp": timestamp - 1},
        {
            "event": "user",
            "text": text,
            "timestamp": timestamp,
            "metadata": metadata,
            "input_channel": input_channel,
            "parse_data": parse,
        },
    ]
    all_slots = {"language": language, "session_started_metadata": session_metadata}
    all_slots.update(slots or {})
    return Tracker(
        sender_id=sender_id,
        slots=all_slots,
        latest_message=parse,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={"name": active_loop} if active_loop else {},
        latest_action_name="action_listen",
    )


def entity(name: str, value: str) -> dict[str, Any]:
    """An entity as the NLU pipeline reports it."""
    return {"entity": name, "value": value, "start": 0, "end": 1}
