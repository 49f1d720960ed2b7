"""Service metrics and A/B test results as one self-contained HTML page (`make report`).

Reads the profile DB (DATABASE_URL) and the tracker store's ``events`` table
(TRACKER_DB_URL), computes `actions.metrics` and `actions.experiments`, writes
``reports/report.html`` (charts inline as PNG data URIs: nothing is fetched from a CDN)
and prints the headline figures, ending with one line of ``key=value`` pairs.
Read-only: it opens its own plain connections and never takes a write lock.

Usage:
    python scripts/report.py [--since YYYY-MM-DD] [--out reports/report.html]
    python scripts/report.py --seed-demo 600 [--demo-dir DIR] [--seed 7]
The second form first fills a throwaway SQLite profile DB and tracker store with
simulated conversations (scripts/report_demo.py) and reports on those instead.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import MetaData, Table, and_, create_engine, inspect, or_, select
from sqlalchemy.engine import Engine, make_url

from actions import experiments as ab
from actions import metrics as mx
from actions.profile_db import models as m
from actions.settings import PROJECT_ROOT, get_settings

DEFAULT_OUT = PROJECT_ROOT / "reports" / "report.html"
# Tracker events the metrics read; slot events only for the `language` slot.
EVENT_TYPES = ("user", "bot", "pause", "resume")
SECTIONS = (
    ("overview", "概览", "Overview"),
    ("resolution", "解决率与转人工", "Resolution and handoff"),
    ("segments", "按语言和渠道", "By language and channel"),
    ("turns", "对话轮次", "Customer turns"),
    ("latency", "响应延迟", "Bot response latency"),
    ("satisfaction", "满意度", "Satisfaction"),
    ("risk", "风险预警", "Risk alerts"),
    ("automation", "各意图自动化率", "Automation rate per intent"),
    ("experiments", "A/B 实验", "A/B experiments"),
    ("definitions", "指标定义", "Definitions"),
)


# --- loading --------------------------------------------------------------------------
@dataclass
class Inputs:
    """Everything read from the two databases."""

    events: list[mx.TrackerEvent] = field(default_factory=list)
    interactions: list[mx.InteractionRow] = field(default_factory=list)
    tickets: list[mx.TicketRow] = field(default_factory=list)
    emotions: list[mx.EmotionRow] = field(default_factory=list)
    alerts: list[mx.AlertRow] = field(default_factory=list)
    ratings: list[mx.RatingRow] = field(default_factory=list)
    assignments: list[ab.AssignmentRow] = field(default_factory=list)


def _reader(url: str) -> Engine | None:
    """A plain engine: no BEGIN IMMEDIATE, so the report never blocks the bot.

    None for a SQLite file that does not exist (rather than creating an empty one).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    ):
        if not Path(parsed.database).exists():
            return None
    return create_engine(url, future=True)


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def _rows(
    engine: Engine, table: Table, stamp: str, since: datetime | None
) -> list[Any]:
    if not inspect(engine).has_table(table.name):
        return []
    query = select(table).order_by(table.c.id)
    if since is not None:
        query = query.where(table.c[stamp] >= since)
    with engine.connect() as conn:
        return list(conn.execute(query))


def load_profile(url: str, since: datetime | None = None) -> Inputs:
    """Read the profile tables the report needs (rows changed since `since`)."""
    engine = _reader(url)
    if engine is None:
        return Inputs()
    try:
        inputs = Inputs(
            interactions=[
                mx.InteractionRow(
                    r.conversation_id,
                    r.customer_id,
                    r.channel,
                    r.outcome,
                    r.language,
                    _aware(r.started_at),  # type: ignore[arg-type]
                    _aware(r.updated_at),  # type: ignore[arg-type]
                )
                for r in _rows(engine, m.Interaction.__table__, "updated_at", since)
            ],
            tickets=[
                mx.TicketRow(
                    r.conversation_id,
                    r.reason,
                    r.emotion,
                    r.base_priority,
                    r.status,
                    r.channel,
                    r.language,
                    _aware(r.created_at),  # type: ignore[arg-type]
                    _aware(r.accepted_at),
                    _aware(r.released_at),
                )
                for r in _rows(engine, m.HandoffTicket.__table__, "created_at", since)
            ],
            emotions=[
                mx.EmotionRow(
                    r.conversation_id,
                    r.emotion,
                    bool(r.urgent),
                    r.intent,
                    r.topic,
                    _aware(r.created_at),  # type: ignore[arg-type]
                )
                for r in _rows(engine, m.EmotionRecord.__table__, "created_at", since)
            ],
            alerts=[
                mx.AlertRow(
                    r.conversation_id,
                    r.rule_id,
                    r.category,
                    r.status,
                    _aware(r.created_at),  # type: ignore[arg-type]
                )
                for r in _rows(engine, m.RiskAlert.__table__, "created_at", since)
            ],
            ratings=[
                mx.RatingRow(
                    r.conversation_id,
                    int(r.score),
                    r.channel,
                    _aware(r.created_at),  # type: ignore[arg-type]
                )
                for r in _rows(
                    engine, m.SatisfactionRating.__table__, "created_at", since
                )
            ],
            assignments=[
                ab.AssignmentRow(
                    r.experiment,
                    r.variant,
                    r.customer_id,
                    r.conversation_id,
                    _aware(r.assigned_at),  # type: ignore[arg-type]
                )
                for r in _rows(
                    engine, m.ExperimentAssignment.__table__, "assigned_at", since
                )
            ],
        )
    finally:
        engine.dispose()
    return inputs


def load_events(url: str, since: datetime | None = None) -> list[mx.TrackerEvent]:
    """Read the tracker store's events the metrics use, in stored order.

    An empty list when the store has no ``events`` table yet.
    """
    engine = _reader(url)
    if engine is None:
        return []
    try:
        if not inspect(engine).has_table("events"):
            return []
        events = Table("events", MetaData(), autoload_with=engine)
        query = (
            select(
                events.c.sender_id,
                events.c.type_name,
                events.c.timestamp,
                events.c.intent_name,
                events.c.action_name,
                events.c.data,
            )
            .where(
                or_(
                    events.c.type_name.in_(EVENT_TYPES),
                    and_(
                        events.c.type_name == "slot",
                        events.c.action_name == "language",
                    ),
                )
            )
            .order_by(events.c.id)
        )
        if since is not None:
            query = query.where(events.c.timestamp >= since.timestamp())
        with engine.connect() as conn:
            return [mx.event_from_row(*row) for row in conn.execute(query)]
    finally:
        engine.dispose()


# --- computing ------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """The computed report: metrics, experiment results and where they came from."""

    metrics: mx.ServiceMetrics
    experiments: tuple[ab.ExperimentResult, ...]
    since: datetime | None
    generated_at: datetime
    source: str


def build_report(
    inputs: Inputs,
    registry: Mapping[str, ab.Experiment],
    *,
    since: datetime | None = None,
    source: str = "",
) -> Report:
    """Summarise the conversations, compute the metrics and analyse each experiment."""
    conversations = mx.summarize_conversations(
        inputs.events, inputs.interactions, inputs.tickets, inputs.emotions
    )
    metrics = mx.compute_metrics(
        conversations, inputs.tickets, inputs.ratings, inputs.alerts
    )
    results = tuple(
        ab.analyse(spec, inputs.assignments, conversations, inputs.ratings)
        for spec in registry.values()
    )
    return Report(metrics, results, since, datetime.now(timezone.utc), source)


# --- formatting -----------------------------------------------------------------------
def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage, ``n/a`` for None."""
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def num(value: float | None, digits: int = 2) -> str:
    """A number with fixed decimals, ``n/a`` for None."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def ms(seconds: float | None) -> str:
    """Seconds as whole milliseconds, ``n/a`` for None."""
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def p_value(value: float) -> str:
    """A p-value as people read it."""
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def p_text(value: float) -> str:
    """``p=0.123`` or ``p<0.001``."""
    shown = p_value(value)
    return f"p{shown}" if shown.startswith("<") else f"p={shown}"


def headline(report: Report) -> str:
    """The one-line summary printed last: ``key=value`` pairs, ``na`` when unknown."""
    met = report.metrics

    def f(value: float | None, digits: int) -> str:
        return "na" if value is None else f"{value:.{digits}f}"

    def millis(value: float | None) -> str:
        return "na" if value is None else f"{value * 1000:.0f}"

    pairs = [
        ("conversations", str(met.conversations)),
        ("containment", f(met.containment_rate, 3)),
        ("resolution", f(met.resolution_rate, 3)),
        ("handoff_rate", f(met.handoff.rate, 3)),
        ("avg_turns", f(met.turns.mean, 2)),
        ("latency_p50_ms", millis(met.latency.p50)),
        ("latency_p95_ms", millis(met.latency.p95)),
        ("satisfaction", f(met.satisfaction.mean, 2)),
        ("ratings", str(met.satisfaction.count)),
        ("risk_alerts", str(met.risk.total)),
    ]
    return " ".join(f"{k}={v}" for k, v in pairs)


def experiment_lines(result: ab.ExperimentResult) -> list[str]:
    """One printed line per treatment: the differences and their p-values."""
    lines = []
    for comp in result.comparisons:
        parts = []
        for label, test in (("resolution", comp.resolution), ("handoff", comp.handoff)):
            if test is not None:
                diff = f"{test.difference * 100:+.1f} pts"
                parts.append(f"{label} {diff} ({p_text(test.p_value)})")
        if comp.satisfaction is not None:
            parts.append(
                f"satisfaction {comp.satisfaction.difference:+.2f} "
                f"({p_text(comp.satisfaction.p_value)})"
            )
        note = "" if comp.enough_data else " [not enough data]"
        lines.append(
            f"A/B {result.experiment.name}: {comp.treatment} vs {comp.control}: "
            + (", ".join(parts) or "no data")
            + note
        )
    return lines


# --- charts ---------------------------------------------------------------------------
COLORS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096")


def _png(draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 3.2)) -> str:
    """Draw on a fresh figure and return it as a PNG data URI (no pyplot state)."""
    with warnings.catch_warnings():  # matplotlib 3.5 trips pyparsing 3 deprecations
        warnings.simplefilter("ignore")
        from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100, layout="constrained")
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _bars(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    xlabel: str = "",
    horizontal: bool = False,
    fmt: str = "{:g}",
) -> str:
    def draw(fig: Any) -> None:
        ax = fig.subplots()
        if horizontal:
            bars = ax.barh(list(labels)[::-1], list(values)[::-1], color=COLORS[0])
            ax.set_xlabel(xlabel)
        else:
            bars = ax.bar(list(labels), list(values), color=COLORS[0])
            ax.set_ylabel(xlabel)
        ax.bar_label(
            bars,
            labels=[fmt.format(v) for v in list(values)[::-1]]
            if horizontal
            else [fmt.format(v) for v in values],
            fontsize=8,
        )
        ax.set_title(title)
        ax.spines[["top", "right"]].set_visible(False)

    height = max(2.6, 0.32 * len(labels) + 1.2) if horizontal else 3.2
    return _png(draw, (6.4, height))


def charts(report: Report) -> dict[str, str]:
    """Every chart of the report as a PNG data URI, by name."""
    met = report.metrics
    out: dict[str, str] = {}
    if met.outcomes:
        out["outcomes"] = _bars(
            list(met.outcomes),
            list(met.outcomes.values()),
            "Final outcome",
            "conversations",
        )
    if met.handoff.reasons:
        out["reasons"] = _bars(
            list(met.handoff.reasons),
            list(met.handoff.reasons.values()),
            "Handoff reasons",
            "conversations",
            horizontal=True,
        )
    if met.turns.histogram:
        out["turns"] = _bars(
            [str(k) for k in met.turns.histogram],
            list(met.turns.histogram.values()),
            "Customer turns per conversation",
            "conversations",
        )
    if met.latency.values:
        out["latency"] = _png(lambda fig: _latency(fig, met.latency))
    if met.satisfaction.count:
        out["satisfaction"] = _bars(
            [str(k) for k in met.satisfaction.distribution],
            list(met.satisfaction.distribution.values()),
            "Ratings (1-5)",
            "ratings",
        )
    if met.risk.total:
        out["risk"] = _png(lambda fig: _risk(fig, met.risk))
    if met.automation:
        out["automation"] = _png(
            lambda fig: _automation(fig, met.automation),
            (6.4, max(2.6, 0.3 * len(met.automation) + 1.2)),
        )
    for result in report.experiments:
        if any(o.conversations for o in result.outcomes):
            out[f"ab_{result.experiment.name}"] = _png(
                lambda fig, r=result: _experiment(fig, r), (7.2, 3.0)
            )
    return out


def _latency(fig: Any, lat: mx.LatencyStats) -> None:
    ax = fig.subplots()
    values = [v * 1000 for v in lat.values]
    ax.hist(values, bins=40, color=COLORS[0])
    for q, value, color in (("p50", lat.p50, COLORS[2]), ("p95", lat.p95, COLORS[1])):
        if value is not None:
            ax.axvline(
                value * 1000,
                color=color,
                linestyle="--",
                label=f"{q} {value * 1000:.0f} ms",
            )
    ax.set_xlabel("ms from customer message to first bot event")
    ax.set_ylabel("turns")
    ax.set_title("Bot response latency per turn")
    ax.legend()
    ax.spines[["top", "right"]].set_visible(False)


def _risk(fig: Any, risk: mx.RiskStats) -> None:
    ax = fig.subplots()
    categories = list(risk.by_category)[::-1]
    statuses = list(risk.by_status)
    left = [0] * len(categories)
    for i, status in enumerate(statuses):
        counts = [risk.by_category_status.get((c, status), 0) for c in categories]
        ax.barh(
            categories, counts, left=left, label=status, color=COLORS[i % len(COLORS)]
        )
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("alerts")
    ax.set_title("Risk alerts by category and review status")
    ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)


def _automation(fig: Any, rows: Sequence[mx.IntentAutomation]) -> None:
    ax = fig.subplots()
    names = [r.intent for r in rows][::-1]
    y = range(len(names))
    turn = [(r.turn_rate or 0) * 100 for r in rows][::-1]
    conv = [(r.conversation_rate or 0) * 100 for r in rows][::-1]
    ax.barh([i + 0.2 for i in y], turn, height=0.4, label="turns", color=COLORS[0])
    ax.barh(
        [i - 0.2 for i in y], conv, height=0.4, label="conversations", color=COLORS[2]
    )
    ax.set_yticks(list(y), names)
    ax.set_xlim(0, 100)
    ax.set_xlabel("% served without a person")
    ax.set_title("Automation rate per intent")
    ax.legend(fontsize=8, loc="lower right")
    ax.spines[["top", "right"]].set_visible(False)


def _experiment(fig: Any, result: ab.ExperimentResult) -> None:
    rates, sat = fig.subplots(1, 2, gridspec_kw={"width_ratios": (2, 1)})
    outcomes = [o for o in result.outcomes if o.conversations]
    width = 0.8 / max(1, len(outcomes))
    for i, o in enumerate(outcomes):
        values, errors = [], []
        for x, n in ((o.resolved, o.conversations), (o.handoffs, o.conversations)):
            p = x / n
            values.append(p * 100)
            errors.append(196 * (p * (1 - p) / n) ** 0.5)  # 95% Wald interval, in %
        xs = [k + (i - (len(outcomes) - 1) / 2) * width for k in range(2)]
        rates.bar(
            xs,
            values,
            width,
            yerr=errors,
            capsize=3,
            label=o.variant,
            color=COLORS[i % len(COLORS)],
        )
        if len(o.ratings) >= 2:
            mean = sum(o.ratings) / len(o.ratings)
            sd = (sum((r - mean) ** 2 for r in o.ratings) / (len(o.ratings) - 1)) ** 0.5
            sat.bar(
                [i],
                [mean],
                0.6,
                yerr=[1.96 * sd / len(o.ratings) ** 0.5],
                capsize=3,
                color=COLORS[i % len(COLORS)],
            )
    rates.set_xticks([0, 1], ["resolution", "handoff"])
    rates.set_ylabel("% of conversations (95% CI)")
    rates.legend(fontsize=8)
    rates.set_title(result.experiment.name)
    sat.set_xticks(range(len(outcomes)), [o.variant for o in outcomes])
    sat.set_ylim(1, 5)
    sat.set_title("mean rating (95% CI)")
    for ax in (rates, sat):
        ax.spines[["top", "right"]].set_visible(False)


# --- HTML -----------------------------------------------------------------------------
CSS = """
body{font-family:-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
margin:2rem auto;max-width:980px;color:#1a202c;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:2px solid #e2e8f0;padding-bottom:.3rem;
margin-top:2.2rem}table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem}
th,td{border:1px solid #e2e8f0;padding:.3rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f7fafc}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #e2e8f0;
border-radius:8px;padding:.7rem 1rem;min-width:150px}.card b{display:block;
font-size:1.5rem}.card span{color:#4a5568;font-size:.85rem}img{max-width:100%}
.sig{color:#276749;font-weight:600}.muted{color:#718096}dt{font-weight:600;
margin-top:.6rem}nav a{margin-right:.8rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _table(head: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _img(images: Mapping[str, str], name: str, alt: str) -> str:
    if name not in images:
        return '<p class="muted">No data. 暂无数据。</p>'
    return f'<p><img alt="{_e(alt)}" src="{images[name]}"></p>'


def _section(key: str, body: str) -> str:
    _, zh, en = next(s for s in SECTIONS if s[0] == key)
    return f'<section id="{key}"><h2>{_e(zh)} {_e(en)}</h2>{body}</section>'


def render_html(report: Report, images: Mapping[str, str]) -> str:
    """The whole page: bilingual headings, tables, inline charts, definitions."""
    met = report.metrics
    cards = [
        ("会话 Conversations", str(met.conversations)),
        ("自助率 Containment", pct(met.containment_rate)),
        ("解决率 Resolution", pct(met.resolution_rate)),
        ("转人工率 Handoff rate", pct(met.handoff.rate)),
        ("平均轮次 Avg. turns", num(met.turns.mean)),
        ("延迟 p50 / p95 Latency", f"{ms(met.latency.p50)} / {ms(met.latency.p95)}"),
        (
            "满意度 Satisfaction",
            f"{num(met.satisfaction.mean)} (n={met.satisfaction.count})",
        ),
        ("风险预警 Risk alerts", str(met.risk.total)),
    ]
    overview = (
        '<div class="cards">'
        + "".join(
            f"<div class='card'><b>{_e(v)}</b><span>{_e(k)}</span></div>"
            for k, v in cards
        )
        + "</div>"
    )
    window = f"since {report.since.date().isoformat()}" if report.since else "all data"
    overview += (
        f'<p class="muted">Data: {_e(report.source)} — {window}. Generated '
        f"{report.generated_at.strftime('%Y-%m-%d %H:%M UTC')}.</p>"
    )
    handoff = met.handoff
    resolution = (
        _img(images, "outcomes", "final outcomes")
        + _table(
            ["结果 Outcome", "会话 Conversations", "占比 Share"],
            [
                (o, n, pct(mx.share(n, met.conversations)))
                for o, n in met.outcomes.items()
            ],
        )
        + _img(images, "reasons", "handoff reasons")
        + _table(
            ["原因 Reason", "会话 Conversations", "占转人工 Of handoffs"],
            [
                (r, n, pct(mx.share(n, handoff.handoffs)))
                for r, n in handoff.reasons.items()
            ],
        )
        + _table(["情绪 Emotion at handoff", "工单 Tickets"], handoff.emotions.items())
        + "<p>Agent wait (ticket to acceptance) 等待人工: "
        f"p50 {_e(_minutes(handoff.wait_p50_s))}, "
        f"p95 {_e(_minutes(handoff.wait_p95_s))}.</p>"
    )
    seg_head = [
        "",
        "会话 Conversations",
        "自助率 Containment",
        "解决率 Resolution",
        "平均轮次 Avg. turns",
    ]

    def seg_rows(rows: Sequence[mx.SegmentStats]) -> list[tuple[object, ...]]:
        return [
            (
                s.key,
                s.conversations,
                pct(s.containment_rate),
                pct(s.resolution_rate),
                num(s.mean_turns),
            )
            for s in rows
        ]

    segments = (
        "<h3>语言 Language</h3>"
        + _table(seg_head, seg_rows(met.by_language))
        + "<h3>渠道 Channel</h3>"
        + _table(seg_head, seg_rows(met.by_channel))
    )
    turns = _img(images, "turns", "turns per conversation") + _table(
        ["", "值 Value"],
        [
            ("会话（有客户消息）Conversations with a message", met.turns.conversations),
            ("客户消息 Customer messages", met.turns.turns),
            ("平均 Mean", num(met.turns.mean)),
            ("中位数 Median", num(met.turns.median, 1)),
            ("最多 Max", met.turns.max),
        ],
    )
    lat = met.latency
    latency = _img(images, "latency", "latency histogram") + _table(
        ["", "值 Value"],
        [
            ("已回复轮次 Answered turns", lat.turns),
            ("未由机器人回复 Not answered by the bot", lat.unanswered),
            ("平均 Mean", ms(lat.mean)),
            ("p50", ms(lat.p50)),
            ("p95", ms(lat.p95)),
            ("p99", ms(lat.p99)),
            ("最大 Max", ms(lat.max)),
        ],
    )
    sat = met.satisfaction
    satisfaction = _img(images, "satisfaction", "rating distribution") + _table(
        ["", "值 Value"],
        [
            ("评分数 Ratings", sat.count),
            ("平均分 Mean (1-5)", num(sat.mean)),
            ("CSAT (4-5 分 share)", pct(sat.csat)),
        ]
        + [(f"{s} 分 score {s}", n) for s, n in sat.distribution.items()],
    )
    statuses = list(met.risk.by_status)
    risk = (
        _img(images, "risk", "risk alerts")
        + _table(
            ["类别 Category", *statuses, "合计 Total"],
            [
                (
                    c,
                    *(met.risk.by_category_status.get((c, s), 0) for s in statuses),
                    n,
                )
                for c, n in met.risk.by_category.items()
            ],
        )
        + f"<p>{met.risk.total} alerts in {met.risk.conversations} conversations.</p>"
    )
    automation = _img(images, "automation", "automation per intent") + _table(
        [
            "意图 Intent",
            "消息 Turns",
            "自动化 Turn rate",
            "会话 Conversations",
            "自动化 Conversation rate",
        ],
        [
            (
                a.intent,
                a.turns,
                pct(a.turn_rate),
                a.conversations,
                pct(a.conversation_rate),
            )
            for a in met.automation
        ],
    )
    experiments = "".join(_experiment_html(r, images) for r in report.experiments) or (
        '<p class="muted">No experiments declared in data/experiments.yml.</p>'
    )
    body = {
        "overview": overview,
        "resolution": resolution,
        "segments": segments,
        "turns": turns,
        "latency": latency,
        "satisfaction": satisfaction,
        "risk": risk,
        "automation": automation,
        "experiments": experiments,
        "definitions": DEFINITIONS,
    }
    nav = (
        "<nav>"
        + "".join(f'<a href="#{k}">{_e(zh)}</a>' for k, zh, _ in SECTIONS)
        + "</nav>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>FinAssist 服务报告 Service report</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>FinAssist 服务报告 Service report</h1>"
        + nav
        + "".join(_section(k, body[k]) for k, _, _ in SECTIONS)
        + "</body></html>\n"
    )


def _minutes(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 60:.1f} min"


def _experiment_html(result: ab.ExperimentResult, images: Mapping[str, str]) -> str:
    spec = result.experiment
    state = "" if spec.active else " (inactive 已停用)"
    parts = [
        f"<h3>{_e(spec.name)}{_e(state)}</h3><p>{_e(spec.description)}</p>",
        _table(
            [
                "变体 Variant",
                "分配单位 Units",
                "会话 Conversations",
                "解决率 Resolution",
                "转人工率 Handoff",
                "评分数 Ratings",
                "满意度 Satisfaction",
            ],
            [
                (
                    o.variant
                    + (" (control 对照)" if o.variant == spec.control else ""),
                    o.units,
                    o.conversations,
                    pct(o.resolution_rate),
                    pct(o.handoff_rate),
                    len(o.ratings),
                    num(o.satisfaction_mean),
                )
                for o in result.outcomes
            ],
        ),
    ]
    rows = []
    for comp in result.comparisons:
        for label, test in (
            ("resolution 解决率", comp.resolution),
            ("handoff 转人工率", comp.handoff),
        ):
            if test is None:
                continue
            rows.append(
                (
                    f"{comp.treatment} vs {comp.control}",
                    label,
                    pct(test.control_rate),
                    pct(test.treatment_rate),
                    f"{test.difference * 100:+.1f} pts",
                    f"[{test.ci_low * 100:+.1f}, {test.ci_high * 100:+.1f}]",
                    f"z = {test.z:.2f}",
                    p_value(test.p_value),
                    _verdict(test.p_value, result.alpha, comp.enough_data),
                )
            )
        if comp.satisfaction is not None:
            t = comp.satisfaction
            rows.append(
                (
                    f"{comp.treatment} vs {comp.control}",
                    "satisfaction 满意度",
                    num(t.control_mean),
                    num(t.treatment_mean),
                    f"{t.difference:+.2f}",
                    "",
                    f"t = {t.t:.2f}, df = {t.df:.0f}",
                    p_value(t.p_value),
                    _verdict(t.p_value, result.alpha, comp.enough_data),
                )
            )
    parts.append(
        _table(
            [
                "比较 Comparison",
                "指标 Outcome",
                "对照 Control",
                "实验 Treatment",
                "差异 Difference",
                "95% CI",
                "检验 Test",
                "p",
                "结论 Verdict",
            ],
            rows,
        )
        if rows
        else '<p class="muted">Not enough data to test. 数据不足。</p>'
    )
    parts.append(_img(images, f"ab_{spec.name}", f"experiment {spec.name}"))
    return "".join(parts).replace("<td>significant", '<td class="sig">significant')


def _verdict(p: float, alpha: float, enough: bool) -> str:
    if not enough:
        return f"not enough data (<{ab.MIN_CONVERSATIONS_PER_VARIANT}/arm) 数据不足"
    return "significant 显著" if p < alpha else "not significant 不显著"


DEFINITIONS = """
<dl>
<dt>会话 Conversation</dt><dd>One conversation id (Rasa sender id) with a customer
message in the tracker store, an interaction row, a handoff ticket or an emotion
record. The app and the web page start a new id per conversation and login.</dd>
<dt>转人工 Handoff</dt><dd>A conversation with a handoff ticket, an interaction outcome
<code>handoff</code> or a <code>pause</code> event. Handoff rate = handed-off
conversations / conversations. Reasons: the first ticket's reason per handed-off
conversation.</dd>
<dt>自助率 Containment rate</dt><dd>Conversations never handed to a person /
conversations (= 1 − handoff rate).</dd>
<dt>解决率 Resolution rate</dt><dd>Conversations that ended without a handoff /
conversations. Ended: the final outcome is <code>ended</code> (the customer said
goodbye) or <code>completed</code> (a task such as a transfer went through).
Cancelled, refused and conversations left without a closing signal
(<code>in_progress</code>) are not resolved.</dd>
<dt>客户轮次 Customer turns</dt><dd>Customer messages (tracker <code>user</code> events)
per conversation, including those an agent answered; averaged over conversations with
a message.</dd>
<dt>响应延迟 Bot response latency</dt><dd>Per customer message: timestamp of the
first bot event after it (agent messages excluded) minus the message's timestamp,
when the bot answered before the next message; p50/p95/p99 by linear interpolation.
Both stamps come from the Rasa server, so the network to the customer is not
included.</dd>
<dt>满意度 Satisfaction</dt><dd>1-5 ratings: mean, distribution, count; CSAT =
share of 4 and 5.</dd>
<dt>风险预警 Risk alerts</dt><dd>One alert per risk rule that fired, by category and by
compliance review status.</dd>
<dt>自动化率 Automation rate per intent</dt><dd>Turns: messages of the intent the bot
answered alone (not while an agent had the conversation, not followed by the bot
handing over) / messages of the intent. Conversations: conversations with a message of
the intent never handed off / conversations with a message of the intent.</dd>
<dt>A/B 实验 A/B tests</dt><dd>Customers are assigned by HMAC-SHA256 of the experiment
and their customer id (anonymous customers by conversation id); the first variant is
the control. Unit of analysis: the conversation. Rates: two-sided two-proportion
z-test (pooled), 95% Wald interval of the difference. Satisfaction: Welch's t-test.
Significant at p &lt; 0.05 with at least 30 conversations per arm; not corrected for
multiple comparisons.</dd>
</dl>
"""


# --- command line ---------------------------------------------------------------------
def _source_label(url: str) -> str:
    """A URL for display, without any password."""
    return make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: optionally seed demo data, then report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="HTML file")
    parser.add_argument("--database-url", help="profile DB (default: DATABASE_URL)")
    parser.add_argument("--tracker-url", help="tracker store (default: TRACKER_DB_URL)")
    parser.add_argument(
        "--since",
        type=date.fromisoformat,
        help="only rows and events from this day on (UTC); a conversation that "
        "started earlier counts with its later part",
    )
    parser.add_argument(
        "--experiments", type=Path, default=ab.EXPERIMENTS_PATH, help="registry YAML"
    )
    parser.add_argument(
        "--seed-demo",
        type=int,
        metavar="N",
        help="first fill a throwaway DB and tracker store with N simulated chats",
    )
    parser.add_argument("--demo-dir", type=Path, help="where to put the demo DBs")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the demo")
    args = parser.parse_args(argv)

    registry = ab.load_registry(args.experiments)
    since = (
        datetime.combine(args.since, datetime.min.time(), tzinfo=timezone.utc)
        if args.since
        else None
    )
    if args.seed_demo is not None:
        from scripts.report_demo import seed_demo

        if args.seed_demo <= 0:
            parser.error("--seed-demo needs a positive number of conversations")
        directory = args.demo_dir or Path(tempfile.mkdtemp(prefix="finassist-demo-"))
        directory.mkdir(parents=True, exist_ok=True)
        profile_url, tracker_url = seed_demo(
            args.seed_demo, directory, seed=args.seed, experiments=registry
        )
        print(f"demo data (throwaway): {directory}")
        source = f"simulated demo, {args.seed_demo} conversations, seed {args.seed}"
    else:
        settings = get_settings()
        profile_url = args.database_url or settings.database_url
        tracker_url = args.tracker_url or settings.tracker_db_url
        source = f"{_source_label(profile_url)} + {_source_label(tracker_url)}"

    inputs = load_profile(profile_url, since)
    inputs.events = load_events(tracker_url, since)
    report = build_report(inputs, registry, since=since, source=source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_html(report, charts(report)), encoding="utf-8")

    print(f"report: {args.out}")
    for result in report.experiments:
        for line in experiment_lines(result):
            print(line)
    print(headline(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
