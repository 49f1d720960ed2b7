"""ProfileRepository against the seeded SQLite demo database (one private copy per test).

Expected values come from the seed data (scripts/seed_profiles.py) or from direct
SQLAlchemy queries on the same database, never from the repository under test.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from actions.errors import BotError, ServiceUnavailable, TransferRejected
from actions.profile_db import models as m
from actions.profile_db.repository import (
    AccountView,
    CardView,
    ProfileRepository,
    TransactionSearch,
)
from actions.profile_db.session import make_engine, session_scope
from scripts.seed_profiles import ACCOUNTS, CARDS, CUSTOMERS, PRODUCTS, RATES
from tests.db import (
    account_id,
    all_balances,
    balance,
    count_rows,
    payee_id,
    set_balance,
)

TODAY = date.today()
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
D = Decimal


# --- helpers ------------------------------------------------------------------------------
@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A second engine on the test's private database, for direct queries."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


def seed_balance(customer_id: str, account_type: str) -> Decimal:
    return next(b for t, _, b, _ in ACCOUNTS[customer_id] if t == account_type)


def utc_date(moment: datetime) -> date:
    """Calendar date in UTC of a stored timestamp (SQLite returns naive UTC values)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.date()


def naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def q2(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fixed_clock(moment: datetime):  # type: ignore[no-untyped-def]
    return lambda: moment


SHANGHAI = ZoneInfo("Asia/Shanghai")
SHANGHAI_1AM = datetime(2026, 11, 25, 1, 0, tzinfo=SHANGHAI)  # 2026-11-24 17:00 UTC


# --- customers, accounts, cards -----------------------------------------------------------
@pytest.mark.parametrize("customer", CUSTOMERS, ids=[c[0] for c in CUSTOMERS])
def test_get_customer_returns_the_seeded_profile(
    repo: ProfileRepository, customer: tuple
) -> None:
    cid, name_zh, name_en, language, risk, tier = customer[:6]
    profile = repo.get_customer(cid)
    assert profile is not None
    assert (
        profile.id,
        profile.name_zh,
        profile.name_en,
        profile.preferred_language,
        profile.risk_level,
        profile.tier,
    ) == (cid, name_zh, name_en, language, risk, tier)
    assert profile.name("zh") == name_zh
    assert profile.name("en") == name_en


def test_get_customer_spot_values_and_unknown_id(repo: ProfileRepository) -> None:
    c001 = repo.get_customer("C001")
    assert c001 is not None
    assert (c001.name_zh, c001.preferred_language, c001.risk_level) == ("李明", "zh", 3)
    assert repo.get_customer("C999") is None
    assert repo.get_customer("") is None


def test_accounts_of_c001_are_masked_with_seed_balances(
    repo: ProfileRepository,
) -> None:
    accounts = repo.accounts("C001")
    assert [a.account_type for a in accounts] == ["current", "savings"]
    current, savings = accounts
    assert current.masked_number == "**** 0123"
    assert savings.masked_number == "**** 0456"
    assert current.balance == D("28650.32")
    assert savings.balance == D("150000.00")
    assert current.daily_transfer_limit == D("50000.00")
    assert savings.daily_transfer_limit == D("20000.00")
    for view in accounts:
        assert isinstance(view, AccountView)
        assert isinstance(view.balance, Decimal)
        assert isinstance(view.daily_transfer_limit, Decimal)
        assert view.currency == "CNY"


@pytest.mark.parametrize("customer_id", ["C001", "C002", "C003"])
def test_accounts_match_seed_and_never_show_the_full_number(
    repo: ProfileRepository, customer_id: str
) -> None:
    expected = sorted(ACCOUNTS[customer_id])  # (type, number, balance, limit)
    views = repo.accounts(customer_id)
    assert len(views) == len(expected)
    for view, (kind, number, bal, limit) in zip(views, expected, strict=False):
        assert view.account_type == kind
        assert view.masked_number == f"**** {number[-4:]}"
        assert number[:-4] not in view.masked_number
        assert view.balance == bal and isinstance(view.balance, Decimal)
        assert view.daily_transfer_limit == limit


def test_accounts_of_unknown_customer_is_empty(repo: ProfileRepository) -> None:
    assert repo.accounts("C999") == []


@pytest.mark.parametrize("customer_id", ["C001", "C002", "C003"])
def test_cards_available_credit_is_limit_minus_outstanding(
    repo: ProfileRepository, customer_id: str
) -> None:
    cards = repo.cards(customer_id)
    seeded = {
        last4: (kind, product, limit, owed)
        for kind, product, last4, limit, owed in CARDS[customer_id]
    }
    assert [c.card_type for c in cards] == ["credit", "debit"]
    assert {c.last4 for c in cards} == set(seeded)
    for card in cards:
        assert isinstance(card, CardView)
        kind, product, limit, owed = seeded[card.last4]
        assert (card.card_type, card.product_name, card.status) == (
            kind,
            product,
            "active",
        )
        if kind == "credit":
            assert card.credit_limit == limit
            assert card.available_credit == limit - owed
            assert isinstance(card.credit_limit, Decimal)
            assert isinstance(card.available_credit, Decimal)
        else:
            assert card.credit_limit is None and card.available_credit is None


def test_cards_of_c001_exact_available_credit(repo: ProfileRepository) -> None:
    credit = repo.cards("C001")[0]
    assert (credit.card_type, credit.last4) == ("credit", "4821")
    assert credit.available_credit == D("41567.82")  # 50,000.00 - 8,432.18


# --- payees --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("customer_id", "text", "expected"),
    [
        ("C001", "张伟", "张伟"),
        ("C001", "给张伟转五千", "张伟"),
        ("C001", "给小张转账", "张伟"),
        ("C001", "Zhang Wei", "张伟"),
        ("C001", "给我妈", "妈妈"),
        ("C001", "我妈", "妈妈"),
        ("C001", "老妈", "妈妈"),
        ("C001", "转给王芳", "王芳"),
        ("C001", "付房租给房东", "房东"),
        ("C001", "给艾玛转点钱", "Emma Walker"),
        ("C002", "send 500 to Alice", "Alice Zhang"),
        ("C002", "my landlord", "Landlord"),
        ("C002", "to Bob", "Bob Chen"),
        ("C002", "send it to my mom", "Mom"),
        ("C003", "给我女儿转两千", "女儿"),
        ("C003", "转给李明", "李明"),
        # payees of another customer are invisible
        ("C002", "张伟", None),
        ("C002", "王芳", None),
        ("C001", "send 500 to Alice", None),
        ("C003", "to Bob", None),
        # no name at all
        ("C001", "", None),
        ("C001", "   ", None),
        ("C001", "，。！", None),
        ("C001", "给刘备转一千", None),
        ("C999", "张伟", None),
    ],
)
def test_find_payee(
    repo: ProfileRepository,
    engine: Engine,
    customer_id: str,
    text: str,
    expected: str | None,
) -> None:
    found = repo.find_payee(customer_id, text)
    if expected is None:
        assert found is None
        return
    assert found is not None
    assert found.name == expected
    with session_scope(engine) as s:
        row = s.get(m.Payee, found.id)
        assert row is not None
        assert row.customer_id == customer_id
        assert found.bank_name == row.bank_name
        assert found.masked_account == f"**** {row.account_number[-4:]}"


# --- transfers -----------------------------------------------------------------------------
def transfer_rows(
    engine: Engine, transfer_id: int
) -> list[tuple[str, int, Decimal, str]]:
    with session_scope(engine) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    m.Transaction.customer_id,
                    m.Transaction.account_id,
                    m.Transaction.amount,
                    m.Transaction.category,
                )
                .where(m.Transaction.transfer_id == transfer_id)
                .order_by(m.Transaction.amount)
            ).all()
        ]


def test_internal_transfer_debits_and_credits_in_one_go(
    repo: ProfileRepository, engine: Engine
) -> None:
    before = all_balances(engine)
    tx_before = count_rows(engine, m.Transaction)
    wang_fang = payee_id(engine, "C001", "王芳")

    result = repo.execute_transfer(
        customer_id="C001",
        payee_id=wang_fang,
        amount=D("5000"),
        idempotency_key="k-internal",
        conversation_id="conv-1",
    )

    assert result.replayed is False
    assert result.amount == D("5000.00") and isinstance(result.amount, Decimal)
    assert result.payee_name == "王芳"
    assert result.from_account == "**** 0123"
    assert result.balance_after == D("23650.32")
    after = all_balances(engine)
    assert after[("C001", "current")] == D("23650.32")
    assert after[("C003", "current")] == D("11230.10")  # 6,230.10 + 5,000.00
    untouched = set(before) - {("C001", "current"), ("C003", "current")}
    assert {k: after[k] for k in untouched} == {k: before[k] for k in untouched}
    assert sum(after.values()) == sum(before.values())  # money is moved, not made

    legs = transfer_rows(engine, result.transfer_id)
    assert legs == [
        ("C001", account_id(engine, "C001", "current"), D("-5000.00"), "transfer"),
        ("C003", account_id(engine, "C003", "current"), D("5000.00"), "transfer"),
    ]
    assert count_rows(engine, m.Transaction) == tx_before + 2
    source = account_id(engine, "C001", "current")
    with session_scope(engine) as s:
        t = s.get(m.Transfer, result.transfer_id)
        assert t is not None
        row = (
            t.customer_id,
            t.from_account_id,
            t.payee_id,
            t.amount,
            t.status,
            t.idempotency_key,
            t.conversation_id,
        )
    assert row == (
        "C001",
        source,
        wang_fang,
        D("5000.00"),
        "completed",
        "k-internal",
        "conv-1",
    )


def test_external_transfer_credits_the_bank_clearing_account(
    repo: ProfileRepository, engine: Engine
) -> None:
    zhang_wei = payee_id(engine, "C001", "张伟")
    result = repo.execute_transfer(
        customer_id="C001",
        payee_id=zhang_wei,
        amount=D("1234.56"),
        idempotency_key="k-external",
    )
    assert result.balance_after == D("27415.76")
    assert balance(engine, "C001", "current") == D("27415.76")
    assert balance(engine, "BANK", "clearing") == D("1234.56")
    assert balance(engine, "C001", "savings") == D("150000.00")
    assert transfer_rows(engine, result.transfer_id) == [
        ("C001", account_id(engine, "C001", "current"), D("-1234.56"), "transfer"),
        ("BANK", account_id(engine, "BANK", "clearing"), D("1234.56"), "transfer"),
    ]


def test_transfer_from_the_savings_account(
    repo: ProfileRepository, engine: Engine
) -> None:
    result = repo.execute_transfer(
        customer_id="C001",
        payee_id=payee_id(engine, "C001", "妈妈"),
        amount=D("2000.00"),
        idempotency_key="k-savings",
        account_type="savings",
    )
    assert result.from_account == "**** 0456"
    assert balance(engine, "C001", "savings") == D("148000.00")
    assert balance(engine, "C001", "current") == seed_balance("C001", "current")


def test_same_idempotency_key_moves_money_only_once(
    repo: ProfileRepository, engine: Engine
) -> None:
    wang_fang = payee_id(engine, "C001", "王芳")
    kwargs = {
        "customer_id": "C001",
        "payee_id": wang_fang,
        "amount": D("800.00"),
        "idempotency_key": "k-retry",
    }
    first = repo.execute_transfer(**kwargs)
    second = repo.execute_transfer(**kwargs)

    assert first.replayed is False and second.replayed is True
    assert second.transfer_id == first.transfer_id
    assert (second.amount, second.payee_name, second.from_account) == (
        D("800.00"),
        "王芳",
        "**** 0123",
    )
    assert balance(engine, "C001", "current") == D("27850.32")
    assert balance(engine, "C003", "current") == D("7030.10")
    with session_scope(engine) as s:
        keys = s.execute(
            select(func.count())
            .select_from(m.Transfer)
            .where(m.Transfer.idempotency_key == "k-retry")
        ).scalar_one()
    assert keys == 1
    assert count_rows(engine, m.Transfer) == 1
    assert len(transfer_rows(engine, first.transfer_id)) == 2


@pytest.mark.parametrize(
    ("customer_id", "payee_of", "payee_name", "amount", "extra", "reason"),
    [
        ("C001", "C001", "张伟", D("28650.33"), {}, "insufficient_funds"),
        ("C001", "C001", "王芳", D("1000000.00"), {}, "insufficient_funds"),
        ("C001", "C001", "张伟", D("0"), {}, "invalid_amount"),
        ("C001", "C001", "张伟", D("-100.00"), {}, "invalid_amount"),
        ("C001", "C001", "张伟", D("0.004"), {}, "invalid_amount"),  # rounds to 0.00
        (
            "C001",
            "C001",
            "张伟",
            D("1000.01"),
            {"max_single": D("1000.00")},
            "over_single_limit",
        ),
        ("C001", None, None, D("100.00"), {}, "unknown_payee"),
        ("C001", "C002", "Alice Zhang", D("100.00"), {}, "unknown_payee"),
        ("C002", "C001", "王芳", D("100.00"), {}, "unknown_payee"),
        (
            "C001",
            "C001",
            "张伟",
            D("100.00"),
            {"account_type": "brokerage"},
            "no_account",
        ),
    ],
    ids=[
        "one-cent-too-much",
        "far-too-much",
        "zero",
        "negative",
        "rounds-to-zero",
        "over-max-single",
        "unknown-payee-id",
        "payee-of-c002",
        "payee-of-c001",
        "no-such-account",
    ],
)
def test_rejected_transfer_changes_nothing(
    repo: ProfileRepository,
    engine: Engine,
    customer_id: str,
    payee_of: str | None,
    payee_name: str | None,
    amount: Decimal,
    extra: dict,
    reason: str,
) -> None:
    target = payee_id(engine, payee_of, payee_name) if payee_of else 999_999
    before = all_balances(engine)
    tx_before = count_rows(engine, m.Transaction)
    with pytest.raises(TransferRejected) as info:
        repo.execute_transfer(
            customer_id=customer_id,
            payee_id=target,
            amount=amount,
            idempotency_key=f"k-{reason}",
            **extra,
        )
    assert info.value.reason == reason
    assert all_balances(engine) == before
    assert count_rows(engine, m.Transfer) == 0
    assert count_rows(engine, m.Transaction) == tx_before


def test_whole_balance_can_be_sent_and_max_single_is_inclusive(
    repo: ProfileRepository, engine: Engine
) -> None:
    result = repo.execute_transfer(
        customer_id="C001",
        payee_id=payee_id(engine, "C001", "张伟"),
        amount=D("28650.32"),
        idempotency_key="k-all",
        max_single=D("28650.32"),
    )
    assert result.balance_after == ZERO
    assert balance(engine, "C001", "current") == ZERO


def test_daily_transfer_limit_adds_up_the_day(engine: Engine) -> None:
    """The bank's day: at 01:00 in Shanghai (17:00 UTC the day before)."""
    repo = ProfileRepository(engine, clock=fixed_clock(SHANGHAI_1AM), zone=SHANGHAI)
    set_balance(engine, "C001", "current", D("200000.00"))
    zhang_wei = payee_id(engine, "C001", "张伟")
    for n, amount in enumerate([D("20000.00"), D("20000.00")]):
        repo.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=amount,
            idempotency_key=f"k-day-{n}",
        )
    assert repo.transferred_today(account_id(engine, "C001", "current")) == D(
        "40000.00"
    )
    before = all_balances(engine)
    assert before[("C001", "current")] == D("160000.00")

    with pytest.raises(TransferRejected) as info:  # 40,000 + 10,000.01 > 50,000
        repo.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=D("10000.01"),
            idempotency_key="k-day-over",
        )
    assert info.value.reason == "daily_limit"
    assert all_balances(engine) == before
    assert count_rows(engine, m.Transfer) == 2

    # exactly up to the limit is still allowed; one cent more is not
    repo.execute_transfer(
        customer_id="C001",
        payee_id=zhang_wei,
        amount=D("10000.00"),
        idempotency_key="k-day-exact",
    )
    assert balance(engine, "C001", "current") == D("150000.00")
    with pytest.raises(TransferRejected) as info:
        repo.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=D("0.01"),
            idempotency_key="k-day-cent",
        )
    assert info.value.reason == "daily_limit"
    assert balance(engine, "C001", "current") == D("150000.00")


def test_daily_limit_of_savings_is_its_own(
    repo: ProfileRepository, engine: Engine
) -> None:
    mom = payee_id(engine, "C001", "妈妈")
    with pytest.raises(TransferRejected) as info:
        repo.execute_transfer(
            customer_id="C001",
            payee_id=mom,
            amount=D("20000.01"),
            idempotency_key="k-sav",
            account_type="savings",
        )
    assert info.value.reason == "daily_limit"
    assert balance(engine, "C001", "savings") == D("150000.00")


def test_yesterdays_transfers_do_not_count_today(engine: Engine) -> None:
    """23:30 and 00:30 in Shanghai: one UTC day (15:30 and 16:30), two bank days."""
    set_balance(engine, "C001", "current", D("200000.00"))
    zhang_wei = payee_id(engine, "C001", "张伟")
    late = (SHANGHAI_1AM - timedelta(minutes=90)).astimezone(timezone.utc)  # real clock
    yesterday = ProfileRepository(engine, clock=fixed_clock(late), zone=SHANGHAI)
    today = ProfileRepository(
        engine, clock=fixed_clock(late + timedelta(hours=1)), zone=SHANGHAI
    )
    yesterday.execute_transfer(
        customer_id="C001",
        payee_id=zhang_wei,
        amount=D("45000.00"),
        idempotency_key="k-yesterday",
    )
    today.execute_transfer(
        customer_id="C001",
        payee_id=zhang_wei,
        amount=D("45000.00"),
        idempotency_key="k-today",
    )
    assert balance(engine, "C001", "current") == D("110000.00")
    with pytest.raises(TransferRejected) as info:
        today.execute_transfer(
            customer_id="C001",
            payee_id=zhang_wei,
            amount=D("5000.01"),
            idempotency_key="k-today-2",
        )
    assert info.value.reason == "daily_limit"


# --- cards ---------------------------------------------------------------------------------
def card_states(
    engine: Engine,
) -> dict[tuple[str, str], tuple[str, datetime | None, str | None]]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(
                m.Card.customer_id,
                m.Card.card_type,
                m.Card.status,
                m.Card.frozen_at,
                m.Card.freeze_reason,
            )
        ).all()
    return {(c, t): (st, naive_utc(at), why) for c, t, st, at, why in rows}


def test_freeze_credit_card_only_and_idempotently(engine: Engine) -> None:
    t1 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    t2 = t1 + timedelta(hours=5)
    before = card_states(engine)

    frozen = ProfileRepository(engine, clock=fixed_clock(t1)).freeze_cards(
        "C001", "credit"
    )
    assert [(c.card_type, c.last4, c.status) for c in frozen] == [
        ("credit", "4821", "frozen")
    ]
    assert frozen[0].available_credit == D("41567.82")
    after = card_states(engine)
    assert after[("C001", "credit")] == ("frozen", naive_utc(t1), "reported_lost")
    assert after[("C001", "debit")] == ("active", None, None)
    others = {k: v for k, v in after.items() if k[0] != "C001"}
    assert others == {k: v for k, v in before.items() if k[0] != "C001"}
    assert all(v[0] == "active" for v in others.values())

    again = ProfileRepository(engine, clock=fixed_clock(t2)).freeze_cards(
        "C001", "credit"
    )
    assert [(c.card_type, c.status) for c in again] == [("credit", "frozen")]
    assert card_states(engine) == after  # frozen_at still t1: nothing changed


@pytest.mark.parametrize("card_type", ["all", None])
def test_freeze_all_cards_of_one_customer(
    repo: ProfileRepository, engine: Engine, card_type: str | None
) -> None:
    before = card_states(engine)
    frozen = repo.freeze_cards("C002", card_type)
    assert sorted((c.card_type, c.last4, c.status) for c in frozen) == [
        ("credit", "7310", "frozen"),
        ("debit", "0987", "frozen"),
    ]
    after = card_states(engine)
    for kind in ("credit", "debit"):
        status, at, why = after[("C002", kind)]
        assert (status, why) == ("frozen", "reported_lost") and at is not None
    assert {k: v for k, v in after.items() if k[0] != "C002"} == {
        k: v for k, v in before.items() if k[0] != "C002"
    }
    assert [c.status for c in repo.cards("C001")] == ["active", "active"]
    assert [c.status for c in repo.cards("C003")] == ["active", "active"]


def test_freeze_debit_then_all_keeps_first_freeze_time(engine: Engine) -> None:
    t1 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    t2 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    ProfileRepository(engine, clock=fixed_clock(t1)).freeze_cards("C003", "debit")
    cards = ProfileRepository(engine, clock=fixed_clock(t2)).freeze_cards("C003", "all")
    assert {c.card_type: c.status for c in cards} == {
        "credit": "frozen",
        "debit": "frozen",
    }
    states = card_states(engine)
    assert states[("C003", "debit")][1] == naive_utc(t1)
    assert states[("C003", "credit")][1] == naive_utc(t2)


def test_freeze_cards_of_unknown_customer_is_empty(
    repo: ProfileRepository, engine: Engine
) -> None:
    before = card_states(engine)
    assert repo.freeze_cards("C999", None) == []
    assert card_states(engine) == before


# --- transaction search --------------------------------------------------------------------
def direct_rows(
    engine: Engine,
    customer_id: str,
    start: date,
    end: date,
    merchant: str | None = None,
    category: str | None = None,
) -> list[tuple[datetime, Decimal, str | None, str, str]]:
    """(posted_at, amount, merchant_key, category, description), filtered in Python."""
    with session_scope(engine) as s:
        rows = s.execute(
            select(
                m.Transaction.posted_at,
                m.Transaction.amount,
                m.Transaction.merchant_key,
                m.Transaction.category,
                m.Transaction.description,
            ).where(m.Transaction.customer_id == customer_id)
        ).all()
    return [
        tuple(r)
        for r in rows
        if start <= utc_date(r[0]) <= end
        and (merchant is None or r[2] == merchant)
        and (category is None or r[3] == category)
    ]


def expected_totals(rows: list) -> tuple[int, Decimal, Decimal]:
    spent = -sum((r[1] for r in rows if r[1] < 0), ZERO)
    received = sum((r[1] for r in rows if r[1] > 0), ZERO)
    return len(rows), spent, received


def merchant_names(engine: Engine) -> dict[str, tuple[str, str]]:
    with session_scope(engine) as s:
        return {
            k: (zh, en)
            for k, zh, en in s.execute(
                select(m.Merchant.key, m.Merchant.name_zh, m.Merchant.name_en)
            ).all()
        }


def expected_top(
    engine: Engine, rows: list, n: int
) -> list[tuple[date, str, str, Decimal]]:
    names = merchant_names(engine)
    payments = sorted(
        (r for r in rows if r[1] < 0),
        key=lambda r: (r[1], -naive_utc(r[0]).timestamp()),
    )
    return [
        (utc_date(r[0]), *names.get(r[2], (r[4], r[4])), -r[1]) for r in payments[:n]
    ]


def assert_search_money_types(found: TransactionSearch) -> None:
    assert isinstance(found.spent, Decimal) and isinstance(found.received, Decimal)
    assert all(isinstance(line.amount, Decimal) for line in found.top)


@pytest.mark.parametrize(
    ("merchant", "category"),
    [
        (None, None),
        ("starbucks", None),
        (None, "dining"),
        ("meituan", "dining"),
        (None, "salary"),
    ],
)
def test_search_transactions_matches_direct_query(
    repo: ProfileRepository, engine: Engine, merchant: str | None, category: str | None
) -> None:
    start, end = TODAY - timedelta(days=90), TODAY
    found = repo.search_transactions(
        "C001", start, end, merchant=merchant, category=category
    )
    rows = direct_rows(engine, "C001", start, end, merchant, category)
    count, spent, received = expected_totals(rows)
    assert count > 0  # the seed has data for every filter used here
    assert (found.start, found.end) == (start, end)
    assert (found.count, found.spent, found.received) == (count, spent, received)
    assert_search_money_types(found)
    assert [
        (line.posted_on, line.merchant_zh, line.merchant_en, line.amount)
        for line in found.top
    ] == expected_top(engine, rows, 3)


def days_in_window(day_of_month: int, start: date, end: date) -> int:
    return sum(
        1
        for n in range((end - start).days + 1)
        if (start + timedelta(days=n)).day == day_of_month
    )


def test_search_transactions_exact_totals_of_known_categories(
    repo: ProfileRepository,
) -> None:
    start, end = TODAY - timedelta(days=90), TODAY
    paydays, rent_days = days_in_window(10, start, end), days_in_window(1, start, end)
    assert paydays >= 2 and rent_days >= 2
    salary = repo.search_transactions("C001", start, end, category="salary")
    # the seed pays C001 18,500.00 on every 10th and takes 4,500.00 rent on every 1st
    assert salary.count == paydays
    assert (salary.spent, salary.received) == (ZERO, D("18500.00") * paydays)
    assert salary.top == ()
    rent = repo.search_transactions("C001", start, end, category="housing", top=5)
    assert rent.count == rent_days
    assert (rent.spent, rent.received) == (D("4500.00") * rent_days, ZERO)
    assert [line.amount for line in rent.top] == [D("4500.00")] * rent_days
    assert [line.posted_on.day for line in rent.top] == [1] * rent_days
    assert [line.posted_on for line in rent.top] == sorted(
        (line.posted_on for line in rent.top), reverse=True
    )
    assert {line.merchant_en for line in rent.top} == {"rent / 房租"}


def test_search_top_lines_are_largest_payments_descending(
    repo: ProfileRepository, engine: Engine
) -> None:
    start, end = TODAY - timedelta(days=60), TODAY
    found = repo.search_transactions("C002", start, end, top=8)
    rows = direct_rows(engine, "C002", start, end)
    assert len(found.top) == 8
    amounts = [line.amount for line in found.top]
    assert amounts == sorted(amounts, reverse=True)
    assert amounts == sorted((-r[1] for r in rows if r[1] < 0), reverse=True)[:8]
    assert [(line.posted_on, line.amount) for line in found.top] == [
        (d, a) for d, _, _, a in expected_top(engine, rows, 8)
    ]
    assert all(amount > 0 for amount in amounts)


def test_search_only_sees_the_customers_own_transactions(
    repo: ProfileRepository, engine: Engine
) -> None:
    start, end = TODAY - timedelta(days=90), TODAY
    totals = {
        c: repo.search_transactions(c, start, end) for c in ("C001", "C002", "C003")
    }
    for cid, found in totals.items():
        assert (found.count, found.spent, found.received) == expected_totals(
            direct_rows(engine, cid, start, end)
        )
    assert repo.search_transactions("C999", start, end).count == 0


def test_search_includes_a_new_transfer(
    repo: ProfileRepository, engine: Engine
) -> None:
    before = repo.search_transactions("C001", TODAY, TODAY)
    repo.execute_transfer(
        customer_id="C001",
        payee_id=payee_id(engine, "C001", "张伟"),
        amount=D("9999.99"),
        idempotency_key="k-search",
    )
    after = repo.search_transactions("C001", TODAY, TODAY, category="transfer")
    assert (after.count, after.spent, after.received) == (1, D("9999.99"), ZERO)
    assert after.top[0].amount == D("9999.99")
    assert after.top[0].merchant_en == "transfer to 张伟"
    total = repo.search_transactions("C001", TODAY, TODAY)
    assert total.count == before.count + 1
    assert total.spent == before.spent + D("9999.99")


def test_search_period_is_whole_utc_days_inclusive(
    repo: ProfileRepository, engine: Engine
) -> None:
    current = account_id(engine, "C001", "current")
    utc = timezone.utc
    with session_scope(engine) as s:
        for moment, amount in [
            (datetime(2000, 12, 31, 23, 59, 59, tzinfo=utc), D("-8.00")),  # before
            (datetime(2001, 1, 1, 0, 0, 0, tzinfo=utc), D("-1.00")),  # first instant
            (datetime(2001, 1, 31, 23, 59, 59, tzinfo=utc), D("-2.00")),  # last second
            (datetime(2001, 1, 15, 12, 0, 0, tzinfo=utc), D("16.00")),  # income
            (datetime(2001, 2, 1, 0, 0, 0, tzinfo=utc), D("-32.00")),  # after
        ]:
            s.add(
                m.Transaction(
                    customer_id="C001",
                    account_id=current,
                    posted_at=moment,
                    amount=amount,
                    category="dining",
                    merchant_key="kfc",
                    description="boundary",
                )
            )
    found = repo.search_transactions("C001", date(2001, 1, 1), date(2001, 1, 31))
    assert (found.count, found.spent, found.received) == (3, D("3.00"), D("16.00"))
    assert [(line.posted_on, line.merchant_en, line.amount) for line in found.top] == [
        (date(2001, 1, 31), "KFC", D("2.00")),
        (date(2001, 1, 1), "KFC", D("1.00")),
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2001, 1, 1), date(2001, 1, 31)),
        (TODAY + timedelta(days=1), TODAY + timedelta(days=30)),
    ],
    ids=["long-ago", "future"],
)
def test_search_of_an_empty_period(
    repo: ProfileRepository, start: date, end: date
) -> None:
    found = repo.search_transactions("C001", start, end)
    assert found.count == 0
    assert found.spent == ZERO and found.received == ZERO
    assert_search_money_types(found)
    assert found.top == ()


# --- money flow, products, rates ---------------------------------------------------------
@pytest.mark.parametrize("customer_id", ["C001", "C002", "C003"])
def test_spending_profile_matches_direct_sums(
    repo: ProfileRepository, engine: Engine, customer_id: str
) -> None:
    since = TODAY - timedelta(days=90)
    flow = repo.spending_profile(customer_id, since)
    _, spent, received = expected_totals(direct_rows(engine, customer_id, since, TODAY))
    total = sum((b for _, _, b, _ in ACCOUNTS[customer_id]), ZERO)
    assert flow.months == 3
    assert flow.total_balance == total
    assert flow.monthly_income == q2(received / 3)
    assert flow.monthly_spending == q2(spent / 3)
    for value in (flow.total_balance, flow.monthly_income, flow.monthly_spending):
        assert isinstance(value, Decimal)
    assert flow.monthly_spending > 0


def test_spending_profile_of_c001_and_other_month_counts(
    repo: ProfileRepository,
) -> None:
    since = TODAY - timedelta(days=90)
    flow = repo.spending_profile("C001", since)
    paydays = days_in_window(10, since, TODAY)  # 18,500.00 salary on every 10th
    assert flow.total_balance == D("178650.32")
    assert flow.monthly_income == q2(D("18500.00") * paydays / 3)
    six = repo.spending_profile("C001", since, months=6)
    assert six.months == 6
    assert six.monthly_income == q2(D("18500.00") * paydays / 6)
    empty = repo.spending_profile("C001", TODAY + timedelta(days=1))
    assert (empty.monthly_income, empty.monthly_spending) == (ZERO, ZERO)


@pytest.mark.parametrize("max_risk", [0, 1, 2, 3, 4, 5])
def test_wealth_products_never_above_max_risk(
    repo: ProfileRepository, max_risk: int
) -> None:
    products = repo.wealth_products(max_risk)
    expected = sorted(
        (p for p in PRODUCTS if p[3] <= max_risk), key=lambda p: (p[3], p[4])
    )
    assert [p.code for p in products] == [p[0] for p in expected]
    for view, seed_row in zip(products, expected, strict=False):
        code, zh, en, risk, term, minimum, bench = seed_row
        assert (
            view.name_zh,
            view.name_en,
            view.risk_level,
            view.term_days,
            view.min_amount,
            view.benchmark,
        ) == (zh, en, risk, term, minimum, bench)
        assert view.risk_level <= max_risk
        assert isinstance(view.min_amount, Decimal)


def test_wealth_products_skip_inactive(repo: ProfileRepository, engine: Engine) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(m.WealthProduct)
            .where(m.WealthProduct.code == "FA-FIX90")
            .values(is_active=False)
        )
    assert [p.code for p in repo.wealth_products(2)] == ["FA-CASH01", "FA-BOND180"]


def seed_bands(version: str, status: str) -> list[tuple[str, int, int, Decimal]]:
    return [
        (v, lo, hi, r) for v, _, h, lo, hi, r in RATES if v == version and h == status
    ]


@pytest.mark.parametrize(
    ("on", "status", "version", "bands"),
    [
        (
            date(2026, 11, 1),
            "first",
            "2026-10",
            [(1, 5, D("2.6000")), (6, 30, D("3.0500"))],
        ),
        (
            date(2026, 6, 1),
            "first",
            "2026-04",
            [(1, 5, D("2.8500")), (6, 30, D("3.3000"))],
        ),
        (
            date(2026, 11, 1),
            "second",
            "2026-10",
            [(1, 5, D("3.0000")), (6, 30, D("3.4500"))],
        ),
        (
            date(2026, 6, 1),
            "second",
            "2026-04",
            [(1, 5, D("3.2500")), (6, 30, D("3.7000"))],
        ),
        (
            date(2026, 10, 20),
            "first",
            "2026-10",  # first day of the new table
            [(1, 5, D("2.6000")), (6, 30, D("3.0500"))],
        ),
        (
            date(2026, 10, 19),
            "first",
            "2026-04",  # last day of the old one
            [(1, 5, D("2.8500")), (6, 30, D("3.3000"))],
        ),
        (
            date(2026, 4, 20),
            "first",
            "2026-04",
            [(1, 5, D("2.8500")), (6, 30, D("3.3000"))],
        ),
        (
            date(2030, 1, 1),
            "first",
            "2026-10",
            [(1, 5, D("2.6000")), (6, 30, D("3.0500"))],
        ),
    ],
)
def test_mortgage_rates_pick_the_version_in_force(
    repo: ProfileRepository, on: date, status: str, version: str, bands: list
) -> None:
    rows = repo.mortgage_rates(status, on)
    got = [
        (r.version, r.home_status, r.min_term_years, r.max_term_years, r.annual_rate)
        for r in rows
    ]
    assert got == [(version, status, lo, hi, rate) for lo, hi, rate in bands]
    assert [(v, lo, hi, r) for v, _, lo, hi, r in got] == seed_bands(version, status)
    assert all(isinstance(r.annual_rate, Decimal) for r in rows)


@pytest.mark.parametrize(
    ("on", "status"),
    [
        (date(2026, 4, 19), "first"),
        (date(2000, 1, 1), "second"),
        (date(2026, 11, 1), "third"),
    ],
)
def test_mortgage_rates_before_any_version_or_unknown_status(
    repo: ProfileRepository, on: date, status: str
) -> None:
    assert repo.mortgage_rates(status, on) == []


# --- interactions and channel identities ---------------------------------------------------
def interactions(engine: Engine) -> list[tuple]:
    with session_scope(engine) as s:
        return [
            tuple(r)
            for r in s.execute(
                select(
                    m.Interaction.customer_id,
                    m.Interaction.conversation_id,
                    m.Interaction.channel,
                    m.Interaction.topic,
                    m.Interaction.outcome,
                    m.Interaction.pending_task,
                    m.Interaction.started_at,
                    m.Interaction.updated_at,
                ).order_by(m.Interaction.id)
            ).all()
        ]


def test_record_interaction_upserts_one_row_per_conversation(engine: Engine) -> None:
    t1 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    t2 = t1 + timedelta(minutes=7)
    ProfileRepository(engine, clock=fixed_clock(t1)).record_interaction(
        customer_id="C001",
        conversation_id="conv-A",
        channel="rest",
        topic="transfer",
        outcome=None,
        pending_task="transfer_form",
    )
    ProfileRepository(engine, clock=fixed_clock(t2)).record_interaction(
        customer_id="C001",
        conversation_id="conv-A",
        channel="rest",
        topic="card_freeze",
        outcome="done",
    )
    rows = interactions(engine)
    assert len(rows) == 1
    cid, conv, channel, topic, outcome, pending, started, updated = rows[0]
    assert (cid, conv, channel, topic, outcome, pending) == (
        "C001",
        "conv-A",
        "rest",
        "card_freeze",
        "done",
        None,
    )
    assert naive_utc(started) == naive_utc(t1)
    assert naive_utc(updated) == naive_utc(t2)

    ProfileRepository(engine, clock=fixed_clock(t2)).record_interaction(
        customer_id="C001",
        conversation_id="conv-B",
        channel="socketio",
        topic="balance",
        outcome="answered",
    )
    assert [(r[1], r[3], r[4]) for r in interactions(engine)] == [
        ("conv-A", "card_freeze", "done"),
        ("conv-B", "balance", "answered"),
    ]


def test_record_channel_identity_upserts_by_channel_and_external_id(
    engine: Engine,
) -> None:
    t1 = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)
    t2 = t1 + timedelta(hours=2)
    ProfileRepository(engine, clock=fixed_clock(t1)).record_channel_identity(
        "C002", "rest", "user-42"
    )
    ProfileRepository(engine, clock=fixed_clock(t2)).record_channel_identity(
        "C002", "rest", "user-42"
    )
    ProfileRepository(engine, clock=fixed_clock(t2)).record_channel_identity(
        "C002", "socketio", "user-42"
    )

    with session_scope(engine) as s:
        rows = [
            tuple(r)
            for r in s.execute(
                select(
                    m.ChannelIdentity.customer_id,
                    m.ChannelIdentity.channel,
                    m.ChannelIdentity.external_id,
                    m.ChannelIdentity.first_seen_at,
                    m.ChannelIdentity.last_seen_at,
                ).order_by(m.ChannelIdentity.id)
            ).all()
        ]
    assert [(c, ch, ext, naive_utc(a), naive_utc(b)) for c, ch, ext, a, b in rows] == [
        ("C002", "rest", "user-42", naive_utc(t1), naive_utc(t2)),
        ("C002", "socketio", "user-42", naive_utc(t2), naive_utc(t2)),
    ]


# --- unavailable database ------------------------------------------------------------------
@pytest.mark.parametrize(
    "call",
    [
        lambda r: r.get_customer("C001"),
        lambda r: r.accounts("C001"),
        lambda r: r.cards("C001"),
        lambda r: r.find_payee("C001", "张伟"),
        lambda r: r.freeze_cards("C001", "credit"),
        lambda r: r.execute_transfer(
            customer_id="C001", payee_id=1, amount=D("1.00"), idempotency_key="k-down"
        ),
        lambda r: r.search_transactions("C001", TODAY - timedelta(days=30), TODAY),
        lambda r: r.spending_profile("C001", TODAY - timedelta(days=90)),
        lambda r: r.wealth_products(3),
        lambda r: r.mortgage_rates("first", TODAY),
        lambda r: r.record_interaction(
            customer_id="C001",
            conversation_id="c",
            channel="rest",
            topic=None,
            outcome=None,
        ),
        lambda r: r.record_channel_identity("C001", "rest", "x"),
    ],
    ids=[
        "get_customer",
        "accounts",
        "cards",
        "find_payee",
        "freeze_cards",
        "execute_transfer",
        "search_transactions",
        "spending_profile",
        "wealth_products",
        "mortgage_rates",
        "record_interaction",
        "record_channel_identity",
    ],
)
def test_unreachable_database_raises_service_unavailable(call) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine("sqlite:////nonexistent-dir/finassist/x.db")
    try:
        with pytest.raises(ServiceUnavailable) as info:
            call(ProfileRepository(engine))
        assert isinstance(info.value.__cause__, OperationalError)
        assert isinstance(info.value, BotError)
    finally:
        engine.dispose()


# --- concurrency ---------------------------------------------------------------------------
def test_sqlite_concurrent_transfers_cannot_overdraw(engine: Engine) -> None:
    """Two transfers of 60% of the balance at once: one succeeds, one is refused.

    The second transfer starts while the first has read the balance and is held there
    for a moment, so without a write lock both would read 28,650.32 and both would pay.
    """
    repo = ProfileRepository(engine)
    zhang_wei = payee_id(engine, "C001", "张伟")
    amount = q2(seed_balance("C001", "current") * D("0.6"))  # 17,190.19
    first_read, second_read = threading.Event(), threading.Event()
    reads: list[int] = []
    guard = threading.Lock()

    def after_execute(conn, cursor, statement, params, context, many):  # type: ignore[no-untyped-def]
        if "FROM accounts" in statement and "accounts.customer_id = " in statement:
            with guard:
                reads.append(threading.get_ident())
                n = len(reads)
            if n == 1:  # the first transfer has read the balance: let the other one in
                first_read.set()
                second_read.wait(0.5)
            elif n == 2:
                second_read.set()

    event.listen(engine, "after_cursor_execute", after_execute)
    outcomes: list[object] = []

    def send(key: str) -> None:
        try:
            outcomes.append(
                repo.execute_transfer(
                    customer_id="C001",
                    payee_id=zhang_wei,
                    amount=amount,
                    idempotency_key=key,
                )
            )
        except BotError as exc:
            outcomes.append(exc)

    try:
        first = threading.Thread(target=send, args=("k-race-1",))
        second = threading.Thread(target=send, args=("k-race-2",))
        first.start()
        assert first_read.wait(10)
        second.start()
        first.join(30)
        second.join(30)
    finally:
        event.remove(engine, "after_cursor_execute", after_execute)

    rejected = [o for o in outcomes if isinstance(o, TransferRejected)]
    assert len(outcomes) == 2, outcomes
    assert len(rejected) == 1 and rejected[0].reason == "insufficient_funds", outcomes
    assert (
        balance(engine, "C001", "current") == seed_balance("C001", "current") - amount
    )
    assert balance(engine, "BANK", "clearing") == amount
    assert count_rows(engine, m.Transfer) == 1


def test_days_are_the_bank_s_local_days(engine: Engine) -> None:
    """At 01:00 in Shanghai (17:00 UTC the day before) "today" is the Shanghai day."""
    utc_clock = fixed_clock(SHANGHAI_1AM.astimezone(timezone.utc))
    repo = ProfileRepository(engine, clock=utc_clock, zone=SHANGHAI)
    assert repo.local_today() == date(2026, 11, 25)
    start = repo._day_start(date(2026, 11, 25))
    assert start == datetime(2026, 11, 25, tzinfo=SHANGHAI)
    assert start.isoformat() == "2026-11-24T16:00:00+00:00"  # compared in UTC


def test_a_conversation_id_belongs_to_the_last_verified_customer(
    repo: ProfileRepository, engine: Engine
) -> None:
    repo.record_channel_identity("C001", "rest", "shared-device")
    repo.record_channel_identity("C002", "rest", "shared-device")
    with session_scope(engine) as s:
        rows = s.execute(select(m.ChannelIdentity.customer_id)).scalars().all()
    assert rows == ["C002"]


def test_sqlite_units_of_work_take_turns_without_lock_errors(
    repo: ProfileRepository,
) -> None:
    """Concurrent writers of one process queue on the engine's lock (no busy retries),
    on a write-ahead-logged database, and every write lands."""
    with repo.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for _ in range(10):
                repo.record_emotion(
                    conversation_id=f"conc-{n}",
                    customer_id="C001",
                    emotion="calm",
                    score=0.1,
                    urgent=False,
                    intent="greet",
                    topic=None,
                )
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(repo.engine) as s:
        written = s.scalar(
            select(func.count())
            .select_from(m.EmotionRecord)
            .where(m.EmotionRecord.conversation_id.like("conc-%"))
        )
    assert written == 80
