"""Service metrics on hand-made rows whose answers are worked out by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from actions import metrics as mx
from actions.metrics import (
    AlertRow,
    Conversation,
    EmotionRow,
    InteractionRow,
    RatingRow,
    TicketRow,
    TrackerEvent,
    Turn,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def user(conv: str, ts: float, intent: str, channel: str = "rest") -> TrackerEvent:
    return TrackerEvent(conv, "user", ts, intent=intent, channel=channel)


def bot(conv: str, ts: float, agent: bool = False) -> TrackerEvent:
    return TrackerEvent(conv, "bot", ts, is_agent=agent)


def ev(conv: str, kind: str, ts: float) -> TrackerEvent:
    return TrackerEvent(conv, kind, ts)


def ticket(conv: str, reason: str, created: float, **kw: object) -> TicketRow:
    fields: dict = {
        "emotion": "angry",
        "priority": 50,
        "status": "released",
        "channel": "socketio",
        "language": "zh",
        "accepted_at": None,
        "released_at": None,
    }
    fields.update(kw)
    return TicketRow(conv, reason, created_at=at(created), **fields)


def interaction(
    conv: str, outcome: str | None, customer: str = "C001", language: str = "zh"
) -> InteractionRow:
    return InteractionRow(conv, customer, "socketio", outcome, language, at(0), at(60))


# --- reading events ------------------------------------------------------------------
def test_event_from_row_reads_agent_channel_and_slot() -> None:
    agent = mx.event_from_row(
        "c1", "bot", 12.5, None, None, json.dumps({"metadata": {"agent": "wang"}})
    )
    assert agent == TrackerEvent("c1", "bot", 12.5, is_agent=True)
    plain_bot = mx.event_from_row("c1", "bot", 13.0, None, None, '{"text": "hi"}')
    assert plain_bot.is_agent is False
    message = mx.event_from_row(
        "c1", "user", 10.0, "greet", None, json.dumps({"input_channel": "socketio"})
    )
    assert message == TrackerEvent("c1", "user", 10.0, "greet", channel="socketio")
    slot = mx.event_from_row(
        "c1", "slot", 11.0, None, "language", json.dumps({"value": "en"})
    )
    assert (slot.slot, slot.value) == ("language", "en")


def test_event_from_row_survives_malformed_data() -> None:
    event = mx.event_from_row("c1", "bot", None, None, None, "{not json")
    assert event == TrackerEvent("c1", "bot", 0.0)


# --- turns ---------------------------------------------------------------------------------
def test_turns_from_events_latency_handoff_and_agent_turns() -> None:
    events = [
        ev("c", "action", 0.0),
        bot("c", 0.1),  # a greeting before any message: no turn to answer
        user("c", 1.0, "check_balance"),
        bot("c", 1.3),
        bot("c", 1.9),  # second bot message of the same turn: latency stays 0.3
        user("c", 10.0, "complain"),
        bot("c", 10.5),
        ev("c", "pause", 10.6),  # the bot handed over after the complaint
        user("c", 20.0, "inform"),  # arrives while an agent has the conversation
        bot("c", 25.0, agent=True),
        ev("c", "resume", 30.0),
        user("c", 40.0, "session_start"),  # channel plumbing, not a message
        user("c", 41.0, "goodbye"),
        bot("c", 41.2),
        user("c", 50.0, "thank"),  # never answered
    ]
    turns = mx.turns_from_events(events)
    assert [t.intent for t in turns] == [
        "check_balance",
        "complain",
        "inform",
        "goodbye",
        "thank",
    ]
    assert [t.latency_s for t in turns] == pytest.approx([0.3, 0.5, None, 0.2, None])
    assert [t.triggered_handoff for t in turns] == [False, True, False, False, False]
    assert [t.by_agent for t in turns] == [False, False, True, False, False]
    assert [t.is_automated for t in turns] == [True, False, False, True, True]


def test_turns_from_emotions_use_ticket_times() -> None:
    records = [
        EmotionRow("e", "calm", False, "check_balance", None, at(0)),
        EmotionRow("e", "angry", False, "complain", None, at(10)),
        EmotionRow("e", "calm", False, "inform", None, at(30)),
        EmotionRow("e", "calm", False, None, None, at(100)),
    ]
    tickets = [ticket("e", "angry_complaint", 11, released_at=at(60))]
    turns = mx.turns_from_emotions(records, tickets)
    assert turns == (
        Turn("check_balance"),
        Turn("complain", triggered_handoff=True),
        Turn("inform", by_agent=True),
        Turn("unknown"),
    )


# --- conversations ---------------------------------------------------------------------
def sample_rows() -> tuple[list, list, list, list]:
    """Six conversations, worked out by hand.

    A  logged in, 3 turns, outcome ended                  -> resolved
    B  logged in, ticket angry_complaint, later "ended"   -> handoff (ticket wins)
    C  anonymous, events only, last intent goodbye        -> ended, resolved
    D  anonymous, a pause event but no ticket             -> handoff, unrecorded
    E  logged in, emotion records only, completed         -> resolved, 2 turns
    F  logged in, cancelled transfer                      -> contained, not resolved
    """
    events = [
        user("A", 0, "greet"),
        bot("A", 0.2),
        user("A", 5, "check_balance"),
        bot("A", 5.4),
        user("A", 9, "goodbye"),
        bot("A", 9.1),
        user("B", 0, "complain", "rest"),
        bot("B", 0.8),
        ev("B", "pause", 0.9),
        user("B", 30, "inform", "rest"),
        bot("B", 40, agent=True),
        ev("B", "resume", 50),
        user("B", 60, "goodbye", "rest"),
        bot("B", 60.3),
        TrackerEvent("C", "slot", 0, slot="language", value="en"),
        user("C", 0, "faq", "socketio"),
        bot("C", 1.5),
        user("C", 8, "goodbye", "socketio"),
        bot("C", 8.1),
        user("D", 0, "request_human", "rest"),
        bot("D", 0.6),
        ev("D", "pause", 0.7),
        user("F", 0, "transfer_money"),
        bot("F", 0.5),
        user("F", 4, "deny"),
        bot("F", 4.2),
    ]
    interactions = [
        # A's history row was updated twice; the latest update (goodbye) counts.
        InteractionRow("A", "C001", "socketio", "ended", "zh", at(0), at(90)),
        InteractionRow("A", "C001", "socketio", "in_progress", "zh", at(0), at(5)),
        interaction("B", "ended", customer="C002", language="en"),
        interaction("E", "completed", customer="C003"),
        interaction("F", "cancelled"),
    ]
    tickets = [
        ticket("B", "angry_complaint", 1, accepted_at=at(61), released_at=at(50)),
        ticket("B", "request_human", 500),
    ]
    emotions = [
        EmotionRow("E", "calm", False, "transfer_money", "transfer", at(0)),
        EmotionRow("E", "calm", False, "affirm", "transfer", at(5)),
    ]
    return events, interactions, tickets, emotions


def sample_conversations() -> list[Conversation]:
    return mx.summarize_conversations(*sample_rows())


def test_summarize_conversations_joins_tracker_and_profile() -> None:
    convs = {c.conversation_id: c for c in sample_conversations()}
    assert sorted(convs) == ["A", "B", "C", "D", "E", "F"]
    expected = {
        # id: (handed_off, outcome, reason, resolved, turns, channel, language)
        "A": (False, "ended", None, True, 3, "socketio", "zh"),
        "B": (True, "handoff", "angry_complaint", False, 3, "socketio", "en"),
        "C": (False, "ended", None, True, 2, "socketio", "en"),
        "D": (True, "handoff", "unrecorded", False, 1, "rest", "unknown"),
        "E": (False, "completed", None, True, 2, "socketio", "zh"),
        "F": (False, "cancelled", None, False, 2, "socketio", "zh"),
    }
    for cid, (handed, outcome, reason, resolved, n, channel, lang) in expected.items():
        c = convs[cid]
        assert (c.handed_off, c.outcome, c.handoff_reason) == (handed, outcome, reason)
        assert (c.is_resolved, len(c.turns), c.channel, c.language) == (
            resolved,
            n,
            channel,
            lang,
        ), cid
    assert convs["A"].customer_id == "C001" and convs["C"].customer_id is None


def test_anonymous_conversation_without_goodbye_is_in_progress() -> None:
    [conv] = mx.summarize_conversations([user("X", 0, "faq"), bot("X", 1)])
    assert (conv.outcome, conv.is_resolved, conv.handed_off) == (
        "in_progress",
        False,
        False,
    )


def test_outcome_handoff_alone_marks_a_handoff() -> None:
    [conv] = mx.summarize_conversations([], [interaction("H", "handoff")])
    assert conv.handed_off and conv.handoff_reason == "unrecorded"


# --- the metrics ---------------------------------------------------------------------------
def test_containment_resolution_and_outcomes() -> None:
    convs = sample_conversations()
    assert mx.containment_rate(convs) == pytest.approx(4 / 6)
    assert mx.resolution_rate(convs) == pytest.approx(3 / 6)
    assert mx.outcome_counts(convs) == {
        "completed": 1,
        "ended": 2,
        "cancelled": 1,
        "handoff": 2,
    }
    assert mx.containment_rate([]) is None and mx.resolution_rate([]) is None


def test_handoff_stats_reasons_emotions_and_wait() -> None:
    events, interactions, tickets, emotions = sample_rows()
    convs = mx.summarize_conversations(events, interactions, tickets, emotions)
    stats = mx.handoff_stats(convs, tickets)
    assert (stats.conversations, stats.handoffs) == (6, 2)
    assert stats.rate == pytest.approx(1 / 3)
    assert stats.reasons == {"angry_complaint": 1, "unrecorded": 1}
    assert stats.emotions == {"angry": 2}
    # Only the first ticket was accepted: 60 seconds after it was opened.
    assert (stats.wait_p50_s, stats.wait_p95_s) == (60.0, 60.0)


def test_turn_stats() -> None:
    stats = mx.turn_stats(sample_conversations())
    # A 3, B 3, C 2, D 1, E 2, F 2
    assert (stats.conversations, stats.turns) == (6, 13)
    assert stats.mean == pytest.approx(13 / 6)
    assert stats.median == 2.0
    assert stats.max == 3
    assert stats.histogram == {1: 1, 2: 3, 3: 2}


def test_latency_stats() -> None:
    stats = mx.latency_stats(sample_conversations())
    # Answered turns: A 0.2 0.4 0.1 | B 0.8 0.3 | C 1.5 0.1 | D 0.6 | F 0.5 0.2.
    # B's agent-served turn and E's (no tracker) turns have no latency.
    values = sorted([0.2, 0.4, 0.1, 0.8, 0.3, 1.5, 0.1, 0.6, 0.5, 0.2])
    assert sorted(stats.values) == pytest.approx(values)
    assert (stats.turns, stats.unanswered) == (10, 3)
    assert stats.mean == pytest.approx(4.7 / 10)
    # Sorted: .1 .1 .2 .2 .3 .4 .5 .6 .8 1.5; p50 at rank 4.5 -> (.3 + .4) / 2;
    # p95 at rank 8.55 -> .8 + .55 * (1.5 - .8).
    assert stats.p50 == pytest.approx(0.35)
    assert stats.p95 == pytest.approx(1.185)
    assert stats.max == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 50, 2.5),
        ([1, 2, 3, 4], 95, 3.85),
        ([1, 2, 3, 4], 0, 1),
        ([1, 2, 3, 4], 100, 4),
        ([4, 1, 3, 2], 25, 1.75),
        ([7], 95, 7),
        ([], 50, None),
    ],
)
def test_percentile_interpolates_linearly(
    values: list[float], q: float, expected: float | None
) -> None:
    assert mx.percentile(values, q) == (
        None if expected is None else pytest.approx(expected)
    )


def test_percentile_rejects_out_of_range_q() -> None:
    with pytest.raises(ValueError):
        mx.percentile([1.0], 101)


def test_satisfaction_stats() -> None:
    ratings = [
        RatingRow(f"c{i}", score, "rest", at(i))
        for i, score in enumerate([5, 4, 4, 2, 1])
    ]
    stats = mx.satisfaction_stats(ratings)
    assert stats.count == 5
    assert stats.mean == pytest.approx(3.2)
    assert stats.distribution == {1: 1, 2: 1, 3: 0, 4: 2, 5: 1}
    assert stats.csat == pytest.approx(0.6)
    empty = mx.satisfaction_stats([])
    assert (empty.count, empty.mean, empty.csat) == (0, None, None)


def test_risk_stats_by_category_and_status() -> None:
    alerts = [
        AlertRow("c1", "SCAM-SAFE-ACCOUNT", "scam_direction", "open", at(0)),
        AlertRow("c1", "SCAM-COVER-STORY", "scam_direction", "confirmed", at(0)),
        AlertRow("c2", "AML-GAMBLING-FUNDS", "gambling", "cleared", at(0)),
        AlertRow("c3", "SCAM-SAFE-ACCOUNT", "scam_direction", "open", at(0)),
    ]
    stats = mx.risk_stats(alerts)
    assert (stats.total, stats.conversations) == (4, 3)
    assert stats.by_category == {"scam_direction": 3, "gambling": 1}
    assert stats.by_status == {"open": 2, "confirmed": 1, "cleared": 1}
    assert stats.by_category_status == {
        ("gambling", "cleared"): 1,
        ("scam_direction", "confirmed"): 1,
        ("scam_direction", "open"): 2,
    }


def test_automation_by_intent() -> None:
    rows = {a.intent: a for a in mx.automation_by_intent(sample_conversations())}
    # goodbye: A (bot), B (bot, after the hand-back), C (bot): 3/3 turns;
    # conversations A and C contained, B handed off: 2/3.
    goodbye = rows["goodbye"]
    assert (goodbye.turns, goodbye.automated_turns) == (3, 3)
    assert (goodbye.conversations, goodbye.automated_conversations) == (3, 2)
    assert goodbye.turn_rate == 1.0
    assert goodbye.conversation_rate == pytest.approx(2 / 3)
    # complain triggered B's handoff; inform came while the agent had B.
    assert (rows["complain"].turn_rate, rows["complain"].conversation_rate) == (0, 0)
    assert rows["inform"].turn_rate == 0
    assert rows["request_human"].turn_rate == 0
    # E's turns come from emotion records: no ticket, so automated.
    assert rows["affirm"].turn_rate == 1.0
    assert rows["transfer_money"].turns == 2  # E and F
    # Most frequent first (ties by name).
    assert next(iter(rows)) == "goodbye"


def test_segment_stats_by_language() -> None:
    segments = mx.segment_stats(sample_conversations(), lambda c: c.language)
    by_key = {s.key: s for s in segments}
    assert [s.key for s in segments] == ["zh", "en", "unknown"]
    zh = by_key["zh"]  # A, E, F: none handed off, A and E resolved
    assert (zh.conversations, zh.containment_rate) == (3, 1.0)
    assert zh.resolution_rate == pytest.approx(2 / 3)
    assert zh.mean_turns == pytest.approx(7 / 3)
    en = by_key["en"]  # B (handoff), C (resolved)
    assert (en.containment_rate, en.resolution_rate) == (0.5, 0.5)


def test_compute_metrics_puts_it_together() -> None:
    events, interactions, tickets, emotions = sample_rows()
    convs = mx.summarize_conversations(events, interactions, tickets, emotions)
    ratings = [RatingRow("A", 5, "socketio", at(10)), RatingRow("B", 2, "rest", at(70))]
    met = mx.compute_metrics(convs, tickets, ratings, [])
    assert met.conversations == 6
    assert met.containment_rate == pytest.approx(4 / 6)
    assert met.resolution_rate == pytest.approx(0.5)
    assert met.handoff.rate == pytest.approx(1 / 3)
    assert met.satisfaction.mean == 3.5
    assert met.risk.total == 0
    assert {s.key for s in met.by_channel} == {"socketio", "rest"}
