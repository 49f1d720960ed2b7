"""ProfileRepository on a real PostgreSQL server.

A fresh, uniquely named database is created for the module, migrated with Alembic and
re-seeded before every test; it is dropped at the end. Skipped with a reason when the
server in FINASSIST_TEST_PG_URL cannot be reached.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from actions.erasure import ERASED_NAME_EN, erase_customer
from actions.errors import BotError, TransferRejected
from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine, session_scope
from addons.tracker_store import MaskingSQLTrackerStore
from scripts.seed_profiles import migrate, seed
from tests.db import all_balances, balance, count_rows, payee_id
from tests.erasure_data import populate, rows_of, rows_of_others, stored_events

pytestmark = pytest.mark.integration

PG_URL = os.environ.get(
    "FINASSIST_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
D = Decimal
ZERO = D("0.00")


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """URL of a fresh, migrated database; dropped (connections terminated) afterwards."""
    admin = create_engine(
        PG_URL,
        future=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    shown = make_url(PG_URL).render_as_string(hide_password=True)
    name = f"finassist_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        admin.dispose()
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        pytest.skip(
            f"PostgreSQL not reachable at {shown} (set FINASSIST_TEST_PG_URL): "
            f"{first_line}"
        )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        pytest.skip(f"cannot create a test database on {shown}: {first_line}")
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def engine(pg_database: str) -> Iterator[Engine]:
    """An engine on the test database, with the demo data freshly seeded."""
    eng = make_engine(pg_database)
    seed(eng, date.today())
    yield eng
    eng.dispose()


@pytest.fixture
def repo(engine: Engine) -> ProfileRepository:
    return ProfileRepository(engine)


def test_money_columns_are_exact_numeric(engine: Engine) -> None:
    with engine.connect() as conn:
        kind = conn.execute(
            text(
                "SELECT data_type, numeric_precision, numeric_scale "
                "FROM information_schema.columns "
                "WHERE table_name = 'accounts' AND column_name = 'balance'"
            )
        ).one()
    assert tuple(kind) == ("numeric", 14, 2)


def test_transfer_and_idempotent_replay(
    repo: ProfileRepository, engine: Engine
) -> None:
    wang_fang = payee_id(engine, "C001", "王芳")
    kwargs = {
        "customer_id": "C001",
        "payee_id": wang_fang,
        "amount": D("5000.00"),
        "idempotency_key": "pg-k-1",
        "conversation_id": "pg-conv",
    }
    first = repo.execute_transfer(**kwargs)
    second = repo.execute_transfer(**kwargs)

    assert (first.replayed, second.replayed) == (False, True)
    assert second.transfer_id == first.transfer_id
    assert first.amount == D("5000.00") and isinstance(first.amount, Decimal)
    assert first.balance_after == D("23650.32")
    assert balance(engine, "C001", "current") == D("23650.32")
    assert balance(engine, "C003", "current") == D("11230.10")
    assert count_rows(engine, m.Transfer) == 1
    with session_scope(engine) as s:
        legs = s.execute(
            select(m.Transaction.customer_id, m.Transaction.amount)
            .where(m.Transaction.transfer_id == first.transfer_id)
            .order_by(m.Transaction.amount)
        ).all()
    assert [tuple(leg) for leg in legs] == [
        ("C001", D("-5000.00")),
        ("C003", D("5000.00")),
    ]


def test_one_transfer_confirmed_everywhere_at_once_is_paid_once(
    repo: ProfileRepository, engine: Engine
) -> None:
    """The same transfer (one reference, so one key) confirmed from several
    conversations at the same moment: PostgreSQL lets one through, the others get
    its result."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    key = hashlib.sha256(b"C001|tr-" + b"c" * 32).hexdigest()
    wang_fang = payee_id(engine, "C001", "王芳")

    def confirm(conversation: str):  # type: ignore[no-untyped-def]
        return repo.execute_transfer(
            customer_id="C001",
            payee_id=wang_fang,
            amount=D("3000.00"),
            idempotency_key=key,
            conversation_id=conversation,
        )

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(confirm, [f"conv-{i}" for i in range(6)]))
    assert sorted(r.replayed for r in results) == [False] + [True] * 5
    assert len({r.transfer_id for r in results}) == 1
    assert balance(engine, "C001", "current") == D("25650.32")
    assert count_rows(engine, m.Transfer) == 1


def test_external_transfer_credits_clearing(
    repo: ProfileRepository, engine: Engine
) -> None:
    repo.execute_transfer(
        customer_id="C001",
        payee_id=payee_id(engine, "C001", "张伟"),
        amount=D("1234.56"),
        idempotency_key="pg-k-ext",
    )
    assert balance(engine, "C001", "current") == D("27415.76")
    assert balance(engine, "BANK", "clearing") == D("1234.56")


@pytest.mark.parametrize(
    ("amount", "payee_of", "reason"),
    [
        (D("28650.33"), "C001", "insufficient_funds"),
        (D("0.00"), "C001", "invalid_amount"),
        (D("100.00"), "C002", "unknown_payee"),  # Alice Zhang is C002's payee
    ],
)
def test_rejected_transfer_leaves_balances_unchanged(
    repo: ProfileRepository, engine: Engine, amount: Decimal, payee_of: str, reason: str
) -> None:
    target = payee_id(engine, payee_of, "张伟" if payee_of == "C001" else "Alice Zhang")
    before = all_balances(engine)
    with pytest.raises(TransferRejected) as info:
        repo.execute_transfer(
            customer_id="C001",
            payee_id=target,
            amount=amount,
            idempotency_key="pg-k-no",
        )
    assert info.value.reason == reason
    assert all_balances(engine) == before
    assert count_rows(engine, m.Transfer) == 0


def test_daily_limit_on_postgres(repo: ProfileRepository, engine: Engine) -> None:
    with session_scope(engine) as s:
        s.execute(
            m.Account.__table__.update()
            .where(m.Account.__table__.c.number == "6217001234567890123")
            .values(balance=D("200000.00"))
        )
    zhang_wei = payee_id(engine, "C001", "张伟")
    for n in range(2):
        repo.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=D("25000.00"),
            idempotency_key=f"pg-day-{n}",
        )
    with pytest.raises(TransferRejected) as info:
        repo.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=D("0.01"),
            idempotency_key="pg-day-over",
        )
    assert info.value.reason == "daily_limit"
    assert balance(engine, "C001", "current") == D("150000.00")


def test_risk_alert_holds_transfers_on_postgres(
    repo: ProfileRepository, engine: Engine
) -> None:
    [alert] = repo.record_risk_alerts(
        conversation_id="pg-risk",
        customer_id="C002",
        channel="rest",
        language="en",
        source="transfer",
        ruleset="2026.11.1",
        hits=[
            {
                "rule_id": "FRAUD-NEW-PAYEE-LARGE",
                "rule_version": 1,
                "category": "new_payee_large",
                "score": 0.8,
                "excerpt": "first transfer of 60000.00 to a payee added 1 day(s) ago",
            }
        ],
        action_taken="transfer_blocked",
        amount=Decimal("60000.10"),
    )
    assert alert.amount == Decimal("60000.10")  # exact NUMERIC, not a float
    before = all_balances(engine)
    with pytest.raises(TransferRejected) as held:
        repo.execute_transfer(
            customer_id="C002",
            payee_id=payee_id(engine, "C002", "Alice Zhang"),
            amount=Decimal("1.00"),
            idempotency_key="pg-risk-1",
        )
    assert held.value.reason == "risk_hold" and all_balances(engine) == before
    repo.review_risk_alert(alert.id, status="confirmed", reviewer="compliance")
    assert repo.has_open_risk_alert("C002")  # a confirmed risk keeps the hold
    repo.review_risk_alert(alert.id, status="released", reviewer="compliance")
    assert not repo.has_open_risk_alert("C002")


def test_freeze_cards(repo: ProfileRepository, engine: Engine) -> None:
    frozen = repo.freeze_cards("C001", "credit")
    assert [(c.card_type, c.last4, c.status) for c in frozen] == [
        ("credit", "4821", "frozen")
    ]
    assert [c.status for c in repo.freeze_cards("C001", "credit")] == ["frozen"]
    with session_scope(engine) as s:
        states = {
            (c, t): (st, at is not None)
            for c, t, st, at in s.execute(
                select(
                    m.Card.customer_id,
                    m.Card.card_type,
                    m.Card.status,
                    m.Card.frozen_at,
                )
            ).all()
        }
    assert states.pop(("C001", "credit")) == ("frozen", True)
    assert set(states.values()) == {("active", False)}
    everything = repo.freeze_cards("C002", "all")
    assert sorted(c.status for c in everything) == ["frozen", "frozen"]
    assert [c.status for c in repo.cards("C003")] == ["active", "active"]


def test_search_transactions_totals_match_direct_query(
    repo: ProfileRepository, engine: Engine
) -> None:
    end = date.today()
    start = end - timedelta(days=90)
    found = repo.search_transactions("C001", start, end)
    lo = datetime.combine(start, datetime.min.time(), tzinfo=timezone.utc)
    hi = datetime.combine(
        end + timedelta(days=1), datetime.min.time(), tzinfo=timezone.utc
    )
    with session_scope(engine) as s:
        amounts = (
            s.execute(
                select(m.Transaction.amount).where(
                    m.Transaction.customer_id == "C001",
                    m.Transaction.posted_at >= lo,
                    m.Transaction.posted_at < hi,
                )
            )
            .scalars()
            .all()
        )
        dining = (
            s.execute(
                select(m.Transaction.amount).where(
                    m.Transaction.customer_id == "C001",
                    m.Transaction.category == "dining",
                    m.Transaction.posted_at >= lo,
                    m.Transaction.posted_at < hi,
                )
            )
            .scalars()
            .all()
        )
    assert found.count == len(amounts) > 0
    assert found.spent == -sum((a for a in amounts if a < 0), ZERO)
    assert found.received == sum((a for a in amounts if a > 0), ZERO)
    assert isinstance(found.spent, Decimal) and isinstance(found.received, Decimal)
    assert [line.amount for line in found.top] == sorted(
        (-a for a in amounts if a < 0), reverse=True
    )[:3]
    by_category = repo.search_transactions("C001", start, end, category="dining")
    assert (by_category.count, by_category.spent) == (
        len(dining),
        -sum(dining, ZERO),
    )
    empty = repo.search_transactions("C001", date(2001, 1, 1), date(2001, 1, 31))
    assert (empty.count, empty.spent, empty.received, empty.top) == (0, ZERO, ZERO, ())


def test_mortgage_rates_and_products_on_postgres(repo: ProfileRepository) -> None:
    rows = repo.mortgage_rates("first", date(2026, 11, 1))
    assert [
        (r.version, r.min_term_years, r.max_term_years, r.annual_rate) for r in rows
    ] == [
        ("2026-10", 1, 5, D("2.6000")),
        ("2026-10", 6, 30, D("3.0500")),
    ]
    assert repo.mortgage_rates("first", date(2026, 1, 1)) == []
    assert [p.code for p in repo.wealth_products(2)] == [
        "FA-CASH01",
        "FA-FIX90",
        "FA-BOND180",
    ]


def run_concurrently(  # type: ignore[no-untyped-def]
    engine: Engine, hook_matches, first_call, second_call, require_hit: bool = True
) -> list[object]:
    """Run two calls in threads; the second starts once the first has run a statement
    matching `hook_matches`, and the first then waits (at most 1 s) for the second to run
    a matching statement too, so both are inside their transactions at the same time.

    With `require_hit=False` a first call that never runs such a statement is allowed
    (the second then starts after 2 s)."""
    first_hit, second_hit = threading.Event(), threading.Event()
    hits: list[int] = []
    guard = threading.Lock()

    def after_execute(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if hook_matches(statement):
            with guard:
                hits.append(threading.get_ident())
                n = len(hits)
            if n == 1:
                first_hit.set()
                second_hit.wait(1.0)
            elif n == 2:
                second_hit.set()

    outcomes: list[object] = []

    def run(call) -> None:  # type: ignore[no-untyped-def]
        try:
            outcomes.append(call())
        except BotError as exc:
            outcomes.append(exc)

    event.listen(engine, "after_cursor_execute", after_execute)
    try:
        first = threading.Thread(target=run, args=(first_call,))
        second = threading.Thread(target=run, args=(second_call,))
        first.start()
        hit = first_hit.wait(10 if require_hit else 2)
        assert hit or not require_hit, (
            "the first call never reached the hooked statement"
        )
        second.start()
        first.join(30)
        second.join(30)
        assert not first.is_alive() and not second.is_alive()
    finally:
        event.remove(engine, "after_cursor_execute", after_execute)
    return outcomes


def test_concurrent_transfers_from_one_account_cannot_overdraw(
    repo: ProfileRepository, engine: Engine
) -> None:
    start_balance = balance(engine, "C001", "current")
    amount = (start_balance * D("0.6")).quantize(D("0.01"), rounding=ROUND_HALF_UP)
    zhang_wei = payee_id(engine, "C001", "张伟")

    def transfer(key: str):  # type: ignore[no-untyped-def]
        return lambda: repo.execute_transfer(
            customer_id="C001", payee_id=zhang_wei, amount=amount, idempotency_key=key
        )

    # The first transfer holds the source row (SELECT ... FOR UPDATE) while the second
    # one starts; the second must wait for it and then see the reduced balance.
    outcomes = run_concurrently(
        engine,
        lambda sql: "FOR UPDATE" in sql and "FROM accounts" in sql,
        transfer("pg-race-1"),
        transfer("pg-race-2"),
    )
    rejected = [o for o in outcomes if isinstance(o, TransferRejected)]
    succeeded = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(succeeded) == 1 and len(rejected) == 1, outcomes
    assert rejected[0].reason == "insufficient_funds"
    assert balance(engine, "C001", "current") == start_balance - amount
    assert balance(engine, "BANK", "clearing") == amount
    assert count_rows(engine, m.Transfer) == 1


def test_concurrent_credits_to_one_internal_account_both_arrive(
    repo: ProfileRepository, engine: Engine
) -> None:
    start = balance(engine, "C003", "current")
    to_wang_fang = payee_id(engine, "C001", "王芳")
    to_bob_chen = payee_id(engine, "C002", "Bob Chen")  # also C003's current account

    def reads_credit_account(sql: str) -> bool:  # s.get(m.Account, id), locked or not
        return (
            sql.lstrip().startswith("SELECT")
            and "FROM accounts" in sql
            and "WHERE accounts.id =" in sql
        )

    outcomes = run_concurrently(
        engine,
        reads_credit_account,
        lambda: repo.execute_transfer(
            customer_id="C001",
            payee_id=to_wang_fang,
            amount=D("1000.00"),
            idempotency_key="pg-credit-1",
        ),
        lambda: repo.execute_transfer(
            customer_id="C002",
            payee_id=to_bob_chen,
            amount=D("2000.00"),
            idempotency_key="pg-credit-2",
        ),
        require_hit=False,  # a fix may credit without reading the account first
    )
    assert not any(isinstance(o, BaseException) for o in outcomes), outcomes
    assert balance(engine, "C001", "current") == D("27650.32")
    assert balance(engine, "C002", "current") == D("10480.75")
    assert balance(engine, "C003", "current") == start + D("3000.00")


@pytest.fixture
def pg_tracker_url(pg_database: str) -> Iterator[str]:
    """A throw-away tracker-store database next to the profile database."""
    admin = create_engine(PG_URL, future=True, isolation_level="AUTOCOMMIT")
    name = f"finassist_trackers_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


async def test_erasure_on_postgres(
    repo: ProfileRepository, engine: Engine, pg_tracker_url: str
) -> None:
    store = MaskingSQLTrackerStore(host=pg_tracker_url)
    try:
        population = await populate(repo, engine, store)
        others_before = rows_of_others(engine, "C002", population.erased)
        balances_before = all_balances(engine)
        transactions_before = count_rows(engine, m.Transaction)

        receipt = erase_customer("C002", repo, pg_tracker_url)
        second = erase_customer("C002", repo, pg_tracker_url)

        assert set(stored_events(store)) == set(population.kept)
    finally:
        store.engine.dispose()
    assert receipt.conversations_deleted == len(population.erased)
    assert receipt.tracker_events_deleted == sum(
        population.events[c] for c in population.erased
    )
    assert rows_of_others(engine, "C002", population.erased) == others_before
    balances = all_balances(engine)
    assert balances == balances_before
    assert all(isinstance(b, Decimal) for b in balances.values())
    assert count_rows(engine, m.Transaction) == transactions_before
    for model in (m.ChannelIdentity, m.Interaction, m.EmotionRecord):
        assert rows_of(engine, model, "C002") == []
    with session_scope(engine) as s:
        customer = s.get(m.Customer, "C002")
        assert (customer.name_en, customer.phone) == (ERASED_NAME_EN, None)
    transactions = receipt.tables["transactions"]
    assert transactions.retained + transactions.anonymised == len(
        rows_of(engine, m.Transaction, "C002")
    )
    assert transactions.anonymised == 1  # the transfer to a payee: name removed
    assert not [
        t for t in rows_of(engine, m.Transaction, "C002") if "Alice" in t.description
    ]
    assert receipt.changed and not second.changed
    assert (second.conversations_deleted, second.tracker_events_deleted) == (0, 0)
