"""Service metrics: containment, resolution, handoffs, turns, latency, ratings, risk.

Pure functions over plain rows. `scripts/report.py` loads the profile DB and the tracker
store's ``events`` table into the dataclasses below; this module decides what the rows
mean. Every rate is a share in [0, 1] and ``None`` when its denominator is zero.

A *conversation* is one Rasa ``sender_id`` (a conversation id of the app or the web
page, which start a new one per conversation and login); it may span several Rasa
sessions. A *customer turn* is one ``user`` event, i.e. one customer message.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HANDOFF = "handoff"
# Final outcomes that mean the customer's business was done: they said goodbye
# (`ended`, set by the goodbye intent) or a task such as a transfer completed.
RESOLVED_OUTCOMES = frozenset({"ended", "completed"})
OUTCOME_ORDER = ("completed", "ended", "cancelled", "refused", "in_progress", HANDOFF)
# Intents that close a conversation when the tracker is all we have (no interaction
# row: anonymous customers); mirrors actions/dialogue/continuity.py ENDING_INTENTS.
ENDING_INTENTS = frozenset({"goodbye"})
# User events that are channel plumbing, not customer messages.
IGNORED_INTENTS = frozenset({"session_start", "restart"})
UNKNOWN = "unknown"
UNRECORDED_REASON = "unrecorded"  # handed off, but no ticket says why
SCORES = (1, 2, 3, 4, 5)


# --- input rows -----------------------------------------------------------------------
@dataclass(frozen=True)
class TrackerEvent:
    """What the metrics read of one tracker-store event (one ``events`` row).

    `is_agent` marks a ``bot`` event written by a human agent through the agent desk
    (its metadata names the ``agent``): it is not the bot answering.
    """

    conversation_id: str
    type_name: str
    timestamp: float
    intent: str | None = None
    is_agent: bool = False
    channel: str | None = None
    slot: str | None = None
    value: Any = None


@dataclass(frozen=True)
class InteractionRow:
    """An ``interactions`` row: a logged-in customer's conversation and its outcome."""

    conversation_id: str
    customer_id: str | None
    channel: str
    outcome: str | None
    language: str | None
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TicketRow:
    """A ``handoff_tickets`` row."""

    conversation_id: str
    reason: str
    emotion: str | None
    priority: int
    status: str
    channel: str
    language: str
    created_at: datetime
    accepted_at: datetime | None = None
    released_at: datetime | None = None


@dataclass(frozen=True)
class EmotionRow:
    """An ``emotion_records`` row: one customer message's emotion and intent."""

    conversation_id: str
    emotion: str
    urgent: bool
    intent: str | None
    topic: str | None
    created_at: datetime


@dataclass(frozen=True)
class AlertRow:
    """A ``risk_alerts`` row."""

    conversation_id: str
    rule_id: str
    category: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class RatingRow:
    """A ``satisfaction_ratings`` row (1-5)."""

    conversation_id: str
    score: int
    channel: str
    created_at: datetime


def event_from_row(
    sender_id: str,
    type_name: str,
    timestamp: float | None,
    intent_name: str | None,
    action_name: str | None,
    data: str | None,
) -> TrackerEvent:
    """Turn one row of Rasa's ``events`` table into a `TrackerEvent`.

    Args:
        sender_id: the conversation id.
        type_name: ``user``, ``bot``, ``action``, ``slot``, ``pause``, ``resume``, ...
        timestamp: seconds since the epoch (Rasa's float timestamp).
        intent_name: the ``intent_name`` column (user events).
        action_name: the ``action_name`` column (for slot events: the slot's name).
        data: the event as JSON.

    Returns:
        The event; a malformed ``data`` only loses the agent, channel and slot value.
    """
    try:
        payload = json.loads(data) if data else {}
    except ValueError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    metadata = payload.get("metadata") or {}
    return TrackerEvent(
        conversation_id=sender_id,
        type_name=type_name,
        timestamp=float(timestamp or payload.get("timestamp") or 0.0),
        intent=intent_name,
        is_agent=type_name == "bot"
        and isinstance(metadata, dict)
        and bool(metadata.get("agent")),
        channel=payload.get("input_channel") if type_name == "user" else None,
        slot=(action_name or payload.get("name")) if type_name == "slot" else None,
        value=payload.get("value") if type_name == "slot" else None,
    )


# --- conversations --------------------------------------------------------------------
@dataclass(frozen=True)
class Turn:
    """One customer message and what happened to it.

    `latency_s` is the first bot (not agent) event after the message minus the message's
    own timestamp, when the bot answered before the next message. `by_agent`: the
    message arrived while the conversation was paused for a human agent.
    `triggered_handoff`: the bot paused the conversation (handed it to a person)
    after this message and before the next one.
    """

    intent: str
    latency_s: float | None = None
    by_agent: bool = False
    triggered_handoff: bool = False

    @property
    def is_automated(self) -> bool:
        """Answered by the bot without involving a person."""
        return not self.by_agent and not self.triggered_handoff


@dataclass(frozen=True)
class Conversation:
    """One conversation, summarised for the metrics.

    `handed_off` is true when any of these says so: a handoff ticket for the
    conversation, an interaction outcome ``handoff``, or a ``pause`` event in the
    tracker. `outcome` is ``handoff`` then; otherwise the latest interaction row's
    outcome (logged-in customers), else ``ended`` when the last message's intent is an
    ending intent (goodbye), else ``in_progress`` (no closing signal).
    """

    conversation_id: str
    channel: str
    language: str
    customer_id: str | None
    turns: tuple[Turn, ...]
    handed_off: bool
    outcome: str
    handoff_reason: str | None = None

    @property
    def is_resolved(self) -> bool:
        """Ended without a handoff: goodbye said or the task completed."""
        return not self.handed_off and self.outcome in RESOLVED_OUTCOMES


@dataclass
class _TurnDraft:
    intent: str
    timestamp: float
    latency_s: float | None = None
    by_agent: bool = False
    triggered_handoff: bool = False


def turns_from_events(events: Sequence[TrackerEvent]) -> tuple[Turn, ...]:
    """The customer turns of one conversation's events (in stored order).

    Args:
        events: the conversation's events, ordered as stored (``events.id``).

    Returns:
        One `Turn` per ``user`` event, ignoring channel plumbing intents.
    """
    drafts: list[_TurnDraft] = []
    paused = False
    for event in events:
        if event.type_name == "user":
            if event.intent in IGNORED_INTENTS:
                continue
            drafts.append(
                _TurnDraft(event.intent or UNKNOWN, event.timestamp, by_agent=paused)
            )
        elif event.type_name == "bot" and not event.is_agent and drafts:
            last = drafts[-1]
            if last.latency_s is None and not last.by_agent:
                last.latency_s = max(0.0, event.timestamp - last.timestamp)
        elif event.type_name == "pause":
            if drafts and not paused and not drafts[-1].by_agent:
                drafts[-1].triggered_handoff = True
            paused = True
        elif event.type_name == "resume":
            paused = False
    return tuple(
        Turn(d.intent, d.latency_s, d.by_agent, d.triggered_handoff) for d in drafts
    )


def turns_from_emotions(
    records: Sequence[EmotionRow], tickets: Sequence[TicketRow]
) -> tuple[Turn, ...]:
    """Turns of a conversation missing from the tracker store, from emotion records.

    No latency is known. A message is agent-served when it came after a ticket was
    opened and before it was released; the last message at or before a ticket's
    creation triggered that handoff.
    """
    ordered = sorted(records, key=lambda r: r.created_at)
    triggers = set()
    for ticket in tickets:
        before = [i for i, r in enumerate(ordered) if r.created_at <= ticket.created_at]
        if before:
            triggers.add(before[-1])

    def served(at: datetime) -> bool:
        return any(
            t.created_at < at and (t.released_at is None or at <= t.released_at)
            for t in tickets
        )

    return tuple(
        Turn(
            r.intent or UNKNOWN,
            None,
            by_agent=served(r.created_at) and i not in triggers,
            triggered_handoff=i in triggers,
        )
        for i, r in enumerate(ordered)
    )


def summarize_conversations(
    events: Iterable[TrackerEvent],
    interactions: Iterable[InteractionRow] = (),
    tickets: Iterable[TicketRow] = (),
    emotions: Iterable[EmotionRow] = (),
) -> list[Conversation]:
    """Join the event stream and the profile rows into one summary per conversation.

    The conversations are those with a customer message in the tracker store, an
    interaction row, a handoff ticket or an emotion record. Turns come from the
    tracker; a conversation with no ``user`` event there falls back on its emotion
    records. Channel and language come from the interaction row, else the ticket, else
    the tracker (``input_channel``, the ``language`` slot), else ``unknown``.

    Args:
        events: tracker events of any conversations, each conversation's in stored
            order.
        interactions: ``interactions`` rows.
        tickets: ``handoff_tickets`` rows.
        emotions: ``emotion_records`` rows.

    Returns:
        Conversations sorted by id.
    """
    by_conv: dict[str, list[TrackerEvent]] = defaultdict(list)
    for event in events:
        by_conv[event.conversation_id].append(event)
    latest: dict[str, InteractionRow] = {}
    for row in interactions:
        held = latest.get(row.conversation_id)
        if held is None or row.updated_at >= held.updated_at:
            latest[row.conversation_id] = row
    tickets_of: dict[str, list[TicketRow]] = defaultdict(list)
    for ticket in tickets:
        tickets_of[ticket.conversation_id].append(ticket)
    emotions_of: dict[str, list[EmotionRow]] = defaultdict(list)
    for record in emotions:
        emotions_of[record.conversation_id].append(record)

    ids = {c for c, evs in by_conv.items() if any(e.type_name == "user" for e in evs)}
    ids |= set(latest) | set(tickets_of) | set(emotions_of)
    result = []
    for cid in sorted(ids):
        evs = by_conv.get(cid, [])
        own_tickets = sorted(tickets_of.get(cid, []), key=lambda t: t.created_at)
        turns = turns_from_events(evs)
        if not turns and emotions_of.get(cid):
            turns = turns_from_emotions(emotions_of[cid], own_tickets)
        row = latest.get(cid)
        handed_off = (
            bool(own_tickets)
            or (row is not None and row.outcome == HANDOFF)
            or any(e.type_name == "pause" for e in evs)
        )
        if handed_off:
            outcome = HANDOFF
        elif row is not None:
            outcome = row.outcome or "in_progress"
        elif turns and turns[-1].intent in ENDING_INTENTS:
            outcome = "ended"
        else:
            outcome = "in_progress"
        reason = None
        if handed_off:
            reason = own_tickets[0].reason if own_tickets else UNRECORDED_REASON
        result.append(
            Conversation(
                conversation_id=cid,
                channel=_first(
                    row.channel if row else None,
                    own_tickets[0].channel if own_tickets else None,
                    next((e.channel for e in evs if e.channel), None),
                ),
                language=_first(
                    row.language if row else None,
                    own_tickets[0].language if own_tickets else None,
                    next(
                        (str(e.value) for e in evs if e.slot == "language" and e.value),
                        None,
                    ),
                ),
                customer_id=row.customer_id if row else None,
                turns=turns,
                handed_off=handed_off,
                outcome=outcome,
                handoff_reason=reason,
            )
        )
    return result


def _first(*values: str | None) -> str:
    return next((v for v in values if v), UNKNOWN)


# --- statistics helpers ---------------------------------------------------------------
def share(part: int, whole: int) -> float | None:
    """`part / whole`, or None when `whole` is zero."""
    return part / whole if whole else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0-100) by linear interpolation between closest ranks.

    The "inclusive" definition (NumPy's default, Excel's PERCENTILE.INC): with the
    values sorted as x[0..n-1], the percentile sits at rank (n-1)*q/100.

    Returns:
        The percentile, or None for no values.
    """
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


# --- metrics --------------------------------------------------------------------------
@dataclass(frozen=True)
class HandoffStats:
    """Conversations that reached a human agent.

    `rate` = handed-off conversations / conversations. `reasons` counts handed-off
    conversations by the reason of their first ticket (``unrecorded`` when the handoff
    is known only from the interaction outcome or a pause event). `emotions` counts
    tickets by the customer's emotion when they were opened. `wait_p50_s` and
    `wait_p95_s`: seconds from a ticket's creation to an agent accepting it, over
    accepted tickets.
    """

    conversations: int
    handoffs: int
    rate: float | None
    reasons: dict[str, int]
    emotions: dict[str, int]
    wait_p50_s: float | None
    wait_p95_s: float | None


@dataclass(frozen=True)
class TurnStats:
    """Customer turns per conversation, over conversations with at least one turn.

    `mean` = customer messages / conversations with a message (messages an agent
    answered included). `histogram` maps a turn count to how many conversations had it.
    """

    conversations: int
    turns: int
    mean: float | None
    median: float | None
    max: int
    histogram: dict[int, int]


@dataclass(frozen=True)
class LatencyStats:
    """Bot response latency per turn, in seconds.

    Per customer message: the timestamp of the first bot event after it (agent messages
    excluded) minus the message's timestamp, when the bot answered before the next
    message. Messages the bot never answered (paused for an agent) are counted in
    `unanswered`. Both timestamps come from the Rasa server's clock, so the figure
    covers NLU, policies and the action server, not the network to the customer.
    """

    turns: int
    unanswered: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None
    values: tuple[float, ...] = field(repr=False, default=())


@dataclass(frozen=True)
class SatisfactionStats:
    """1-5 ratings. `csat` = share of ratings of 4 or 5 (the usual CSAT)."""

    count: int
    mean: float | None
    distribution: dict[int, int]
    csat: float | None


@dataclass(frozen=True)
class RiskStats:
    """Risk alerts (one per rule that fired) by category, by status and by both.

    `conversations` counts distinct conversations with at least one alert.
    """

    total: int
    conversations: int
    by_category: dict[str, int]
    by_status: dict[str, int]
    by_category_status: dict[tuple[str, str], int]


@dataclass(frozen=True)
class IntentAutomation:
    """How often one intent was served without a person.

    `conversation_rate` = conversations with at least one message of this intent that
    never reached a handoff / conversations with a message of this intent.
    `turn_rate` = messages of this intent answered by the bot alone (not while an agent
    had the conversation, and not followed by the bot handing over) / messages of this
    intent.
    """

    intent: str
    conversations: int
    automated_conversations: int
    turns: int
    automated_turns: int

    @property
    def conversation_rate(self) -> float | None:
        """Share of this intent's conversations never handed off."""
        return share(self.automated_conversations, self.conversations)

    @property
    def turn_rate(self) -> float | None:
        """Share of this intent's messages answered by the bot alone."""
        return share(self.automated_turns, self.turns)


@dataclass(frozen=True)
class SegmentStats:
    """Headline rates of one segment of conversations (a language, a channel)."""

    key: str
    conversations: int
    containment_rate: float | None
    resolution_rate: float | None
    mean_turns: float | None


@dataclass(frozen=True)
class ServiceMetrics:
    """Everything `make report` shows, computed by `compute_metrics`.

    `containment_rate` = conversations never handed off / conversations.
    `resolution_rate` = conversations that ended without a handoff (final outcome
    ``ended`` or ``completed``, see `Conversation`) / conversations.
    `outcomes` counts conversations by final outcome.
    """

    conversations: int
    containment_rate: float | None
    resolution_rate: float | None
    outcomes: dict[str, int]
    handoff: HandoffStats
    turns: TurnStats
    latency: LatencyStats
    satisfaction: SatisfactionStats
    risk: RiskStats
    automation: tuple[IntentAutomation, ...]
    by_language: tuple[SegmentStats, ...]
    by_channel: tuple[SegmentStats, ...]


def containment_rate(conversations: Sequence[Conversation]) -> float | None:
    """Conversations never handed to a person / all conversations."""
    return share(sum(not c.handed_off for c in conversations), len(conversations))


def resolution_rate(conversations: Sequence[Conversation]) -> float | None:
    """Conversations ended (goodbye, task completed) without a handoff / all."""
    return share(sum(c.is_resolved for c in conversations), len(conversations))


def outcome_counts(conversations: Sequence[Conversation]) -> dict[str, int]:
    """Conversations by final outcome, in `OUTCOME_ORDER` (others after, by name)."""
    counts = Counter(c.outcome for c in conversations)
    order = [o for o in OUTCOME_ORDER if o in counts]
    order += sorted(set(counts) - set(OUTCOME_ORDER))
    return {o: counts[o] for o in order}


def handoff_stats(
    conversations: Sequence[Conversation], tickets: Sequence[TicketRow] = ()
) -> HandoffStats:
    """Handoff rate, reasons, emotions and agent wait (see `HandoffStats`)."""
    handed = [c for c in conversations if c.handed_off]
    reasons = Counter(c.handoff_reason or UNRECORDED_REASON for c in handed)
    emotions = Counter(t.emotion or UNKNOWN for t in tickets)
    waits = [
        (t.accepted_at - t.created_at).total_seconds()
        for t in tickets
        if t.accepted_at is not None
    ]
    return HandoffStats(
        conversations=len(conversations),
        handoffs=len(handed),
        rate=share(len(handed), len(conversations)),
        reasons=dict(reasons.most_common()),
        emotions=dict(emotions.most_common()),
        wait_p50_s=percentile(waits, 50),
        wait_p95_s=percentile(waits, 95),
    )


def turn_stats(conversations: Sequence[Conversation]) -> TurnStats:
    """Customer turns per conversation (see `TurnStats`)."""
    counts = [len(c.turns) for c in conversations if c.turns]
    return TurnStats(
        conversations=len(counts),
        turns=sum(counts),
        mean=_mean(counts),
        median=percentile(counts, 50),
        max=max(counts, default=0),
        histogram=dict(sorted(Counter(counts).items())),
    )


def latency_stats(conversations: Sequence[Conversation]) -> LatencyStats:
    """Bot response latency per turn (see `LatencyStats`)."""
    turns = [t for c in conversations for t in c.turns]
    values = [t.latency_s for t in turns if t.latency_s is not None]
    return LatencyStats(
        turns=len(values),
        unanswered=len(turns) - len(values),
        mean=_mean(values),
        p50=percentile(values, 50),
        p95=percentile(values, 95),
        p99=percentile(values, 99),
        max=max(values, default=None),
        values=tuple(values),
    )


def satisfaction_stats(ratings: Sequence[RatingRow]) -> SatisfactionStats:
    """Mean, 1-5 distribution, count and CSAT of ratings (see `SatisfactionStats`)."""
    scores = [r.score for r in ratings]
    counts = Counter(scores)
    return SatisfactionStats(
        count=len(scores),
        mean=_mean(scores),
        distribution={s: counts.get(s, 0) for s in SCORES},
        csat=share(sum(s >= 4 for s in scores), len(scores)),
    )


def risk_stats(alerts: Sequence[AlertRow]) -> RiskStats:
    """Risk alerts by category and status (see `RiskStats`)."""
    return RiskStats(
        total=len(alerts),
        conversations=len({a.conversation_id for a in alerts}),
        by_category=dict(Counter(a.category for a in alerts).most_common()),
        by_status=dict(Counter(a.status for a in alerts).most_common()),
        by_category_status=dict(
            sorted(Counter((a.category, a.status) for a in alerts).items())
        ),
    )


def automation_by_intent(
    conversations: Sequence[Conversation],
) -> tuple[IntentAutomation, ...]:
    """Automation rate per intent (see `IntentAutomation`), most frequent first."""
    turns: Counter[str] = Counter()
    automated_turns: Counter[str] = Counter()
    convs: Counter[str] = Counter()
    automated_convs: Counter[str] = Counter()
    for conv in conversations:
        for turn in conv.turns:
            turns[turn.intent] += 1
            automated_turns[turn.intent] += turn.is_automated
        for intent in {t.intent for t in conv.turns}:
            convs[intent] += 1
            automated_convs[intent] += not conv.handed_off
    return tuple(
        IntentAutomation(
            intent, convs[intent], automated_convs[intent], n, automated_turns[intent]
        )
        for intent, n in sorted(turns.items(), key=lambda kv: (-kv[1], kv[0]))
    )


def segment_stats(
    conversations: Sequence[Conversation], key: Callable[[Conversation], str]
) -> tuple[SegmentStats, ...]:
    """Containment, resolution and mean turns per segment, largest segment first."""
    groups: dict[str, list[Conversation]] = defaultdict(list)
    for conv in conversations:
        groups[key(conv)].append(conv)
    return tuple(
        SegmentStats(
            name,
            len(group),
            containment_rate(group),
            resolution_rate(group),
            _mean([len(c.turns) for c in group if c.turns]),
        )
        for name, group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    )


def compute_metrics(
    conversations: Sequence[Conversation],
    tickets: Sequence[TicketRow] = (),
    ratings: Sequence[RatingRow] = (),
    alerts: Sequence[AlertRow] = (),
) -> ServiceMetrics:
    """All service metrics of a set of conversations and profile rows.

    Args:
        conversations: from `summarize_conversations`.
        tickets: the handoff tickets (emotions and agent wait).
        ratings: satisfaction ratings.
        alerts: risk alerts.

    Returns:
        The metrics (see `ServiceMetrics` and the classes it holds).
    """
    return ServiceMetrics(
        conversations=len(conversations),
        containment_rate=containment_rate(conversations),
        resolution_rate=resolution_rate(conversations),
        outcomes=outcome_counts(conversations),
        handoff=handoff_stats(conversations, tickets),
        turns=turn_stats(conversations),
        latency=latency_stats(conversations),
        satisfaction=satisfaction_stats(ratings),
        risk=risk_stats(alerts),
        automation=automation_by_intent(conversations),
        by_language=segment_stats(conversations, lambda c: c.language),
        by_channel=segment_stats(conversations, lambda c: c.channel),
    )
