"""Days, months and time windows in the bank's time zone, at every hour of a local day.

A frozen clock steps across whole local days in several zones (half-hour offsets, +13,
-11, both daylight-saving changes): the daily transfer limit, period searches and every
stored timestamp must agree with the calendar that `zoneinfo` computes here, never with
the repository under test. The scenario helpers take an engine;
tests/integration/test_time_boundaries_pg.py runs them on PostgreSQL.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import StatementError

from actions.errors import TransferRejected
from actions.periods import resolve_period
from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine, session_scope
from actions.risk.transfers import TransferContext

D = Decimal
UTC = timezone.utc
US = timedelta(microseconds=1)
MINUTE = timedelta(minutes=1)
ONE_DAY = timedelta(days=1)
CUSTOMER = "TB01"  # a customer of these tests only: no seeded transactions
LIMIT = D("50000.00")
START_BALANCE = D("1000000.00")
MARKER = "tb_marker"  # the category of the boundary transactions
PERIODS = ("today", "yesterday", "this_month", "last_month", "last_7_days")
_keys = itertools.count()  # idempotency keys

# (bank time zone, local day stepped across)
DAYS = [
    ("Asia/Shanghai", date(2026, 11, 25)),  # +8
    ("Asia/Shanghai", date(2026, 12, 1)),  # +8, first day of a month
    ("UTC", date(2026, 3, 1)),
    ("America/New_York", date(2026, 3, 8)),  # 23-hour day: 02:00 -> 03:00
    ("America/New_York", date(2026, 11, 1)),  # 25-hour day, first day of a month
    ("Asia/Kolkata", date(2026, 1, 1)),  # +5:30, first day of a year
    ("Pacific/Auckland", date(2026, 2, 1)),  # +13 (daylight saving time)
    ("Pacific/Auckland", date(2026, 4, 5)),  # 25-hour day: +13 -> +12
    ("Pacific/Pago_Pago", date(2026, 3, 1)),  # -11
    ("America/Santiago", date(2026, 9, 6)),  # no midnight: the day starts at 01:00
]
DAY_IDS = [f"{zone}-{day}" for zone, day in DAYS]
ZONES = sorted({zone for zone, _ in DAYS})


# --- the calendar, computed by the test ---------------------------------------------------
@cache
def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first instant (UTC) of a local day, found minute by minute.

    Not `datetime.combine(day, midnight, zone)`, which is how the repository does it:
    where a daylight-saving change skips midnight the day starts at 01:00.
    """
    moment = datetime.combine(day, time.min, tzinfo=UTC) - timedelta(hours=15)
    while local_date(moment, zone) < day:
        moment += MINUTE
    return moment


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def instants(zone: ZoneInfo, day: date) -> list[datetime]:
    """Every local hour of `day`, and the minutes around its midnights and UTC's."""
    start, end = day_start(day, zone), day_start(day + ONE_DAY, zone)
    hours = int((end - start) / timedelta(hours=1))  # 23, 24 or 25
    moments = {start + timedelta(hours=h) for h in range(hours)}
    midnights = [start, end]
    midnights += [
        utc
        for d in (day - ONE_DAY, day, day + ONE_DAY)
        if start <= (utc := datetime.combine(d, time.min, tzinfo=UTC)) <= end
    ]
    for midnight in midnights:
        moments |= {midnight - MINUTE, midnight, midnight + MINUTE}
    return sorted(moments)


def shown(moment: datetime, zone: ZoneInfo, n: int) -> datetime:
    """The same instant, alternately as UTC and as local time (both are legitimate)."""
    return moment.astimezone(zone) if n % 2 else moment


def label(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S.%f%z}"


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


# --- the test customer ----------------------------------------------------------------------
def add_test_customer(engine: Engine) -> None:
    """A customer with one account (limit 50,000.00), one payee, one card."""
    created = datetime(2020, 1, 1, tzinfo=UTC)
    with session_scope(engine) as s:
        s.add(m.Category(key=MARKER, name_zh="边界", name_en="boundary"))
        s.add(
            m.Customer(
                id=CUSTOMER,
                name_zh="边界测试",
                name_en="Boundary Test",
                preferred_language="zh",
                risk_level=2,
                tier="standard",
                phone="+8613800000000",
                created_at=created,
            )
        )
        s.flush()
        account = m.Account(
            customer_id=CUSTOMER,
            account_type="current",
            number="6217009900000000001",
            currency="CNY",
            balance=START_BALANCE,
            daily_transfer_limit=LIMIT,
            status="active",
            opened_at=created,
        )
        s.add(account)
        s.flush()
        s.add(
            m.Payee(
                customer_id=CUSTOMER,
                name="边界收款人",
                aliases="",
                bank_name="某银行",
                account_number="6222600299990009999",
                created_at=created,
            )
        )
        s.add(
            m.Card(
                customer_id=CUSTOMER,
                account_id=account.id,
                card_type="debit",
                product_name="边界借记卡",
                last4="9999",
                status="active",
            )
        )


@cache
def ids(engine: Engine) -> tuple[int, int]:
    """(account id, payee id) of the test customer."""
    with session_scope(engine) as s:
        account = s.execute(
            select(m.Account.id).where(m.Account.customer_id == CUSTOMER)
        ).scalar_one()
        payee = s.execute(
            select(m.Payee.id).where(m.Payee.customer_id == CUSTOMER)
        ).scalar_one()
    return account, payee


def reset_transfers(
    engine: Engine, transfers: Sequence[tuple[datetime, Decimal]] = ()
) -> None:
    """Remove the test customer's transfers, then write `transfers` (when, amount)."""
    account, payee = ids(engine)
    with session_scope(engine) as s:
        made = select(m.Transfer.id).where(m.Transfer.customer_id == CUSTOMER)
        s.execute(
            delete(m.Transaction)
            .where(m.Transaction.transfer_id.in_(made))
            .execution_options(synchronize_session=False)
        )
        s.execute(delete(m.Transfer).where(m.Transfer.customer_id == CUSTOMER))
        s.execute(
            update(m.Account)
            .where(m.Account.customer_id == CUSTOMER)
            .values(balance=START_BALANCE)
        )
        s.add_all(
            m.Transfer(
                idempotency_key=f"tb-{next(_keys)}",
                customer_id=CUSTOMER,
                from_account_id=account,
                payee_id=payee,
                amount=amount,
                status="completed",
                created_at=when,
            )
            for when, amount in transfers
        )


def delete_markers(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.execute(delete(m.Transaction).where(m.Transaction.category == MARKER))


# --- scenarios (shared with the PostgreSQL twin) -------------------------------------------


def near_midnight(moment: datetime, zone: ZoneInfo) -> bool:
    """Within a minute of the start or the end of its local day."""
    today = local_date(moment, zone)
    return (
        moment - day_start(today, zone) <= MINUTE
        or day_start(today + ONE_DAY, zone) - moment <= MINUTE
    )


def limit_problems(engine: Engine, zone: ZoneInfo, day: date) -> list[str]:
    """The daily limit at every instant of `day`; one line per wrong outcome.

    Around midnight every transfer goes through the repository; at the other hours the
    two transfers at the day's edges are written directly, to keep the run short.
    """
    account, payee = ids(engine)
    problems: list[str] = []
    for n, moment in enumerate(instants(zone, day)):
        today = local_date(moment, zone)
        start, end = day_start(today, zone), day_start(today + ONE_DAY, zone)
        edges = [(start - US, D("45000.00")), (start, D("30000.00"))]
        full = near_midnight(moment, zone)
        reset_transfers(engine, [] if full else edges)
        seen: list[TransferContext] = []

        def pay(
            when: datetime,
            amount: Decimal,
            expected: str,
            *,
            n: int = n,
            seen: list[TransferContext] = seen,
            moment: datetime = moment,
            risk: bool = False,
        ) -> None:
            repo = ProfileRepository(
                engine, clock=fixed(shown(when, zone, n)), zone=zone
            )
            try:
                repo.execute_transfer(
                    customer_id=CUSTOMER,
                    payee_id=payee,
                    amount=amount,
                    idempotency_key=f"tb-{next(_keys)}",
                    risk_rules=(lambda ctx: seen.append(ctx) or []) if risk else None,
                )
                outcome = "accepted"
            except TransferRejected as exc:
                outcome = exc.reason
            if outcome != expected:
                problems.append(
                    f"clock {label(moment, zone)}: {amount} at {label(when, zone)} "
                    f"{outcome}, expected {expected}"
                )

        if full:
            pay(*edges[0], "accepted")  # the last instant of yesterday
            pay(*edges[1], "accepted")  # yesterday's 45,000.00 do not count
        pay(moment, D("20000.01"), "daily_limit", risk=True)  # 30,000 + 20,000.01
        pay(moment, D("20000.00"), "accepted")  # exactly the limit
        if full:
            pay(moment, D("0.01"), "daily_limit")
            pay(end - US, D("0.01"), "daily_limit")  # still today
            pay(end, LIMIT, "accepted")  # tomorrow is a new day
        # the risk rules see the instants that were written (their 24 h windows)
        [context] = seen
        history = sorted(t.created_at for t in context.history)
        if context.now != moment or history != [start - US, start]:
            problems.append(
                f"clock {label(moment, zone)}: risk context now={context.now!r} "
                f"history={history}"
            )
    reset_transfers(engine)
    return problems


def markers(zone: ZoneInfo, day: date) -> list[datetime]:
    """Instants on both sides of every day, month and UTC boundary near `day`."""
    first = day.replace(day=1)
    month_starts = [
        (first - ONE_DAY).replace(day=1),
        first,
        (first + timedelta(days=32)).replace(day=1),
    ]
    local_days = [day + timedelta(days=k) for k in (-1, 0, 1, 2)]
    bounds = [day_start(d, zone) for d in local_days + month_starts]
    bounds += [
        datetime.combine(d, time.min, tzinfo=UTC)
        for d in (day - ONE_DAY, day, day + ONE_DAY)
    ]
    return sorted({b - US for b in bounds} | set(bounds))


def add_markers(engine: Engine, moments: list[datetime]) -> dict[datetime, Decimal]:
    """One payment per instant, 2**i cents: a total tells which ones were counted."""
    account, _ = ids(engine)
    amounts = {at: D(2**i) / 100 for i, at in enumerate(moments)}
    with session_scope(engine) as s:
        s.add_all(
            m.Transaction(
                customer_id=CUSTOMER,
                account_id=account,
                posted_at=at,
                amount=-amount,
                category=MARKER,
                description=f"marker {at.isoformat()}",
            )
            for at, amount in amounts.items()
        )
    return amounts


def search_problems(engine: Engine, zone: ZoneInfo, day: date) -> list[str]:
    """Periods and spending sums at every instant of `day`; one line per mismatch.

    Each instant resolves its periods from the repository's own clock; each distinct
    date range is searched once (the search itself takes dates, not the clock).
    """
    amounts = add_markers(engine, markers(zone, day))
    problems: list[str] = []
    searched: set[tuple[date, date]] = set()
    try:
        for n, moment in enumerate(instants(zone, day)):
            repo = ProfileRepository(
                engine, clock=fixed(shown(moment, zone, n)), zone=zone
            )
            today = local_date(moment, zone)
            if repo.local_today() != today:
                problems.append(
                    f"clock {label(moment, zone)}: today {repo.local_today()}"
                )
                continue
            for period in PERIODS:
                first, last = resolve_period(period, repo.local_today())
                if (first, last) in searched:
                    continue
                searched.add((first, last))
                found = repo.search_transactions(
                    CUSTOMER, first, last, top=len(amounts)
                )
                want = sorted(
                    (local_date(at, zone), amount)
                    for at, amount in amounts.items()
                    if first <= local_date(at, zone) <= last
                )
                got = sorted((line.posted_on, line.amount) for line in found.top)
                total = sum((a for _, a in want), D("0.00"))
                if (found.count, found.spent, got) != (len(want), total, want):
                    problems.append(
                        f"clock {label(moment, zone)} {period} {first}..{last}: "
                        f"{found.count} lines {found.spent}, expected {len(want)} "
                        f"lines {total}; wrong lines {sorted(set(got) ^ set(want))}"
                    )
        for since in sorted({first for first, _ in searched}):
            flow = repo.spending_profile(CUSTOMER, since, months=1)
            lo = day_start(since, zone)
            total = sum((a for at, a in amounts.items() if at >= lo), D("0.00"))
            if flow.monthly_spending != total:
                problems.append(
                    f"spending since {since}: {flow.monthly_spending}, expected {total}"
                )
    finally:
        delete_markers(engine)
    return problems


def transferred_today_problems(engine: Engine, zone: ZoneInfo, day: date) -> list[str]:
    """`transferred_today` and `local_today` follow the repository's own clock."""
    account, payee = ids(engine)
    reset_transfers(engine)
    start, end = day_start(day, zone), day_start(day + ONE_DAY, zone)
    problems: list[str] = []
    try:
        for when, amount in [(start - US, "100.00"), (start, "20.00"), (end, "3.00")]:
            ProfileRepository(engine, clock=fixed(when), zone=zone).execute_transfer(
                customer_id=CUSTOMER,
                payee_id=payee,
                amount=D(amount),
                idempotency_key=f"tb-{next(_keys)}",
            )
        for n, moment in enumerate(
            [start - MINUTE, start - US, start, start + MINUTE, end - US, end]
        ):
            repo = ProfileRepository(
                engine, clock=fixed(shown(moment, zone, n)), zone=zone
            )
            today = local_date(moment, zone)
            expected = {day - ONE_DAY: "100.00", day: "20.00", day + ONE_DAY: "3.00"}
            got = (repo.local_today(), repo.transferred_today(account))
            if got != (today, D(expected[today])):
                problems.append(
                    f"clock {label(moment, zone)}: {got}, expected "
                    f"{(today, D(expected[today]))}"
                )
    finally:
        reset_transfers(engine)
    return problems


def round_trip_problems(engine: Engine, zone: ZoneInfo) -> list[str]:
    """Every timestamp the repository writes reads back as the same UTC instant."""
    problems: list[str] = []
    account, payee = ids(engine)

    def check(what: str, got: Any, want: datetime) -> None:
        if not (
            isinstance(got, datetime)
            and got.utcoffset() == timedelta(0)
            and got == want
        ):
            problems.append(f"{what}: {got!r}, expected {want!r} in UTC")

    day = date(2026, 3, 1)
    for moment in (
        day_start(day, zone) + timedelta(minutes=30),
        datetime(2026, 3, 1, tzinfo=UTC),
    ):
        with session_scope(engine) as s:  # earlier zones' history is not this one's
            s.execute(
                delete(m.Interaction).where(m.Interaction.customer_id == CUSTOMER)
            )
        later = moment + timedelta(minutes=5)
        at, at_later = fixed(moment.astimezone(zone)), fixed(later.astimezone(zone))
        repo = ProfileRepository(engine, clock=at, zone=zone)
        conv = f"tb-conv-{next(_keys)}"
        ticket, _ = repo.open_handoff(
            conversation_id=conv,
            customer_id=CUSTOMER,
            channel="rest",
            language="zh",
            reason="asked_for_agent",
            topic=None,
            emotion=None,
            urgent=False,
            base_priority=1,
            summary="{}",
        )
        check("ticket created_at", ticket.created_at, moment)
        later_repo = ProfileRepository(engine, clock=at_later, zone=zone)
        active = later_repo.update_ticket(ticket.id, status="active", agent="a1")
        assert active is not None
        check("ticket accepted_at", active.accepted_at, later)
        check("ticket created_at", active.created_at, moment)
        if active.accepted_at - active.created_at != timedelta(minutes=5):
            problems.append(f"waiting time {active.accepted_at - active.created_at}")
        released = later_repo.update_ticket(ticket.id, status="released")
        assert released is not None
        check("ticket released_at", released.released_at, later)
        listed = [t for t in repo.open_tickets() if t.id == ticket.id]
        if listed:
            problems.append("a released ticket is still open")

        [alert] = repo.record_risk_alerts(
            conversation_id=conv,
            customer_id=None,
            channel="rest",
            language="zh",
            source="message",
            ruleset="tb",
            hits=[
                {
                    "rule_id": "TB",
                    "rule_version": 1,
                    "category": "tb",
                    "score": 0.1,
                    "excerpt": "",
                }
            ],
            action_taken="none",
        )
        check("alert created_at", alert.created_at, moment)
        reviewed = later_repo.review_risk_alert(
            alert.id, status="cleared", reviewer="tb"
        )
        assert reviewed is not None
        check("alert reviewed_at", reviewed.reviewed_at, later)
        check("alert created_at", reviewed.created_at, moment)

        repo.record_interaction(
            customer_id=CUSTOMER,
            conversation_id=conv,
            channel="rest",
            topic="transfer",
            outcome=None,
        )
        for since, found in [
            (moment - timedelta(hours=2), True),
            ((moment - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Tokyo")), True),
            (moment.astimezone(ZoneInfo("America/Los_Angeles")), True),  # inclusive
            (moment + US, False),
            ((moment + US).astimezone(zone), False),
        ]:
            last = later_repo.last_interaction_elsewhere(CUSTOMER, "tb-other", since)
            if (last is not None) != found:
                problems.append(f"interaction since {since.isoformat()}: {last}")
            elif last is not None:
                check("interaction updated_at", last.updated_at, moment)

        repo.record_rating(
            conversation_id=conv, customer_id=CUSTOMER, channel="rest", score=5
        )
        repo.record_emotion(
            conversation_id=conv,
            customer_id=CUSTOMER,
            emotion="calm",
            score=0.0,
            urgent=False,
            intent=None,
            topic=None,
        )
        repo.record_experiment_assignment(
            experiment="tb",
            variant="a",
            customer_id=CUSTOMER,
            conversation_id=conv,
        )
        repo.record_channel_identity(CUSTOMER, "rest", conv)
        repo.freeze_cards(CUSTOMER, "debit")
        with session_scope(engine) as s:
            stored = {
                "rating": s.execute(
                    select(m.SatisfactionRating.created_at).where(
                        m.SatisfactionRating.conversation_id == conv
                    )
                ).scalar_one(),
                "emotion": s.execute(
                    select(m.EmotionRecord.created_at).where(
                        m.EmotionRecord.conversation_id == conv
                    )
                ).scalar_one(),
                "experiment": s.execute(
                    select(m.ExperimentAssignment.assigned_at).where(
                        m.ExperimentAssignment.conversation_id == conv
                    )
                ).scalar_one(),
                "identity": s.execute(
                    select(m.ChannelIdentity.first_seen_at).where(
                        m.ChannelIdentity.external_id == conv
                    )
                ).scalar_one(),
                "card": s.execute(
                    select(m.Card.frozen_at).where(m.Card.customer_id == CUSTOMER)
                ).scalar_one(),
                "interaction": s.execute(
                    select(m.Interaction.started_at).where(
                        m.Interaction.conversation_id == conv
                    )
                ).scalar_one(),
            }
            # the stored value is the instant itself: a direct comparison finds it
            exact = s.execute(
                select(m.EmotionRecord.id).where(
                    m.EmotionRecord.conversation_id == conv,
                    m.EmotionRecord.created_at == moment.astimezone(zone),
                )
            ).all()
            s.execute(
                update(m.Card)
                .where(m.Card.customer_id == CUSTOMER)
                .values(status="active", frozen_at=None, freeze_reason=None)
            )
        for what, value in stored.items():
            check(what, value, moment)
        if len(exact) != 1:
            problems.append(f"created_at == {moment.astimezone(zone)} found {exact}")
    return problems


def new_payee_and_history_problems(engine: Engine, zone: ZoneInfo) -> list[str]:
    """The 90-day history and the payee's age, at the edges, for the risk rules."""
    account, payee = ids(engine)
    reset_transfers(engine)
    problems: list[str] = []
    now = day_start(date(2026, 3, 1), zone) + timedelta(minutes=1)
    edge = now - timedelta(days=90)
    try:
        for when, amount in [(edge - US, "1.00"), (edge, "2.00")]:
            ProfileRepository(engine, clock=fixed(when), zone=zone).execute_transfer(
                customer_id=CUSTOMER,
                payee_id=payee,
                amount=D(amount),
                idempotency_key=f"tb-{next(_keys)}",
            )
        seen: list[TransferContext] = []
        ProfileRepository(
            engine, clock=fixed(now.astimezone(zone)), zone=zone
        ).execute_transfer(
            customer_id=CUSTOMER,
            payee_id=payee,
            amount=D("3.00"),
            idempotency_key=f"tb-{next(_keys)}",
            risk_rules=lambda ctx: seen.append(ctx) or [],
        )
        [ctx] = seen
        history = [(t.amount, t.created_at) for t in ctx.history]
        if history != [(D("2.00"), edge)]:
            problems.append(f"90-day history from {edge}: {history}")
        if ctx.payee_created_at != datetime(2020, 1, 1, tzinfo=UTC):
            problems.append(f"payee created {ctx.payee_created_at!r}")
        if ctx.now != now:
            problems.append(f"now {ctx.now!r}")
    finally:
        reset_transfers(engine)
    return problems


# --- SQLite --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tb_engine(
    seeded_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One seeded database for the whole module; each scenario cleans up after itself."""
    path = tmp_path_factory.mktemp("time-boundaries") / "profile.db"
    shutil.copy(seeded_template, path)
    engine = make_engine(f"sqlite:///{path}")
    add_test_customer(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_daily_limit_is_the_local_day_at_every_hour(
    tb_engine: Engine, zone: str, day: date
) -> None:
    assert limit_problems(tb_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_period_searches_cut_at_local_midnight_at_every_hour(
    tb_engine: Engine, zone: str, day: date
) -> None:
    assert search_problems(tb_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_transferred_today_uses_the_repository_clock_and_zone(
    tb_engine: Engine, zone: str, day: date
) -> None:
    assert transferred_today_problems(tb_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize("zone", ZONES)
def test_every_timestamp_reads_back_as_the_same_utc_instant(
    tb_engine: Engine, zone: str
) -> None:
    assert round_trip_problems(tb_engine, ZoneInfo(zone)) == []


@pytest.mark.parametrize("zone", ZONES)
def test_risk_history_window_and_payee_age_are_exact(
    tb_engine: Engine, zone: str
) -> None:
    assert new_payee_and_history_problems(tb_engine, ZoneInfo(zone)) == []


def test_naive_utc_strings_written_before_still_read_as_utc(tb_engine: Engine) -> None:
    """SQLite rows of older versions hold naive UTC text; they stay UTC instants."""
    shanghai = ZoneInfo("Asia/Shanghai")
    account, payee = ids(tb_engine)
    reset_transfers(tb_engine)
    try:
        with tb_engine.begin() as conn:
            for stamp, amount in [
                ("2026-02-28 15:59:59.999999", -100),  # 2026-02-28 23:59:59 +08
                ("2026-02-28 16:00:00.000000", -200),  # 2026-03-01 00:00 +08
                ("2026-03-01 15:59:59.999999", -400),  # 2026-03-01 23:59:59 +08
            ]:
                conn.execute(
                    text(
                        "INSERT INTO transactions (customer_id, account_id, posted_at,"
                        " amount, currency, category, description) VALUES"
                        " (:c, :a, :t, :x, 'CNY', :k, 'old row')"
                    ),
                    {"c": CUSTOMER, "a": account, "t": stamp, "x": amount, "k": MARKER},
                )
            conn.execute(
                text(
                    "INSERT INTO transfers (idempotency_key, customer_id,"
                    " from_account_id, payee_id, amount, currency, status, created_at)"
                    " VALUES ('tb-old', :c, :a, :p, 4000000, 'CNY', 'completed',"
                    " '2026-02-28 16:00:00.000000')"
                ),
                {"c": CUSTOMER, "a": account, "p": payee},
            )
        noon = datetime(2026, 3, 1, 12, 0, tzinfo=shanghai)
        repo = ProfileRepository(tb_engine, clock=fixed(noon), zone=shanghai)
        found = repo.search_transactions(CUSTOMER, date(2026, 3, 1), date(2026, 3, 1))
        assert (found.count, found.spent) == (2, D("6.00"))
        assert {line.posted_on for line in found.top} == {date(2026, 3, 1)}
        assert repo.transferred_today(account) == D("40000.00")
        with pytest.raises(TransferRejected) as info:
            repo.execute_transfer(
                customer_id=CUSTOMER,
                payee_id=payee,
                amount=D("10000.01"),
                idempotency_key="tb-old-2",
            )
        assert info.value.reason == "daily_limit"
        with session_scope(tb_engine) as s:
            stored = s.execute(
                select(m.Transfer.created_at).where(
                    m.Transfer.idempotency_key == "tb-old"
                )
            ).scalar_one()
        assert stored == datetime(2026, 3, 1, 0, 0, tzinfo=shanghai)
        assert stored.tzinfo is UTC
    finally:
        reset_transfers(tb_engine)
        delete_markers(tb_engine)


def test_sqlite_stores_utc_text_whatever_the_zone_of_the_value(
    tb_engine: Engine,
) -> None:
    """What older rows look like is what new rows look like: naive UTC text."""
    conv = "tb-text"
    at = datetime(2026, 3, 1, 0, 30, tzinfo=ZoneInfo("Asia/Kolkata"))  # 19:00 UTC
    ProfileRepository(tb_engine, clock=fixed(at)).record_emotion(
        conversation_id=conv,
        customer_id=None,
        emotion="calm",
        score=0.0,
        urgent=False,
        intent=None,
        topic=None,
    )
    with tb_engine.connect() as conn:
        raw = conn.execute(
            text("SELECT created_at FROM emotion_records WHERE conversation_id = :c"),
            {"c": conv},
        ).scalar_one()
    assert raw == "2026-02-28 19:00:00.000000"


# --- naive datetimes are refused ------------------------------------------------------------
NAIVE = datetime(2026, 3, 1, 12, 0)


def test_a_naive_clock_is_refused_before_anything_is_written(tb_engine: Engine) -> None:
    account, payee = ids(tb_engine)
    reset_transfers(tb_engine)
    repo = ProfileRepository(tb_engine, clock=fixed(NAIVE), zone=ZoneInfo("UTC"))
    with pytest.raises(m.NaiveDatetimeError):
        repo.execute_transfer(
            customer_id=CUSTOMER,
            payee_id=payee,
            amount=D("1.00"),
            idempotency_key="tb-naive",
        )
    with pytest.raises(m.NaiveDatetimeError):
        repo.transferred_today(account)
    with pytest.raises(m.NaiveDatetimeError):
        repo.record_emotion(
            conversation_id="tb-naive",
            customer_id=None,
            emotion="calm",
            score=0.0,
            urgent=False,
            intent=None,
            topic=None,
        )
    with session_scope(tb_engine) as s:
        assert (
            s.execute(
                select(m.Transfer.id).where(m.Transfer.customer_id == CUSTOMER)
            ).all()
            == []
        )


def test_a_naive_since_is_refused(tb_engine: Engine) -> None:
    repo = ProfileRepository(tb_engine, zone=ZoneInfo("Asia/Shanghai"))
    with pytest.raises(m.NaiveDatetimeError):
        repo.last_interaction_elsewhere(CUSTOMER, "tb-other", NAIVE)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (NAIVE, "NaiveDatetimeError"),
        (date(2026, 3, 1), "TypeError"),  # which zone's midnight?
        ("2026-03-01 12:00:00", "TypeError"),
    ],
    ids=["naive-datetime", "date", "text"],
)
def test_a_timestamp_column_refuses_anything_but_an_aware_datetime(
    tb_engine: Engine, value: object, error: str
) -> None:
    """A naive value in a comparison or a write is a bug, whoever makes it."""
    with pytest.raises(StatementError) as compared, session_scope(tb_engine) as s:
        s.execute(select(m.Transfer.id).where(m.Transfer.created_at >= value))
    assert type(compared.value.orig).__name__ == error
    with pytest.raises(StatementError) as written, session_scope(tb_engine) as s:
        s.add(
            m.EmotionRecord(
                conversation_id="tb-naive",
                emotion="calm",
                score=0.0,
                urgent=False,
                created_at=value,
            )
        )
        s.flush()
    assert type(written.value.orig).__name__ == error


def test_naive_datetime_error_names_the_fix() -> None:
    message = str(m.NaiveDatetimeError(NAIVE))
    assert "tzinfo" in message and "2026-03-01 12:00:00" in message
    assert issubclass(m.NaiveDatetimeError, ValueError)
