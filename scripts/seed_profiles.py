"""Create the profile schema (Alembic) and the demo customers C001, C002 and C003.

Run with `make seed`. Data is deterministic for a given `--as-of` date (default: today):
three months of salary, rent, bills and card spending per customer. Re-running replaces
the demo rows, so it is safe to call on every `make run`.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alembic import command
from alembic.config import Config
from sqlalchemy import delete, func, select
from sqlalchemy.engine import Engine

from actions.profile_db import models as m
from actions.profile_db.session import make_engine, session_scope
from actions.settings import PROJECT_ROOT, get_settings

D = Decimal
CATEGORIES = {
    "dining": ("餐饮", "Dining"),
    "shopping": ("购物", "Shopping"),
    "transport": ("交通", "Transport"),
    "groceries": ("超市", "Groceries"),
    "travel": ("旅行", "Travel"),
    "phone": ("话费", "Phone"),
    "utilities": ("水电", "Utilities"),
    "entertainment": ("娱乐", "Entertainment"),
    "salary": ("工资", "Salary"),
    "transfer": ("转账", "Transfer"),
    "housing": ("住房", "Housing"),
}
# key: (name_zh, name_en, category, low, high, mean visits per 30 days)
MERCHANTS = {
    "starbucks": ("星巴克", "Starbucks", "dining", 28, 46, 6),
    "luckin": ("瑞幸咖啡", "Luckin Coffee", "dining", 13, 26, 8),
    "meituan": ("美团外卖", "Meituan", "dining", 25, 88, 9),
    "mcdonalds": ("麦当劳", "McDonald's", "dining", 22, 62, 2),
    "kfc": ("肯德基", "KFC", "dining", 28, 72, 2),
    "taobao": ("淘宝", "Taobao", "shopping", 39, 620, 4),
    "jd": ("京东", "JD.com", "shopping", 59, 1800, 2),
    "apple": ("Apple", "Apple", "entertainment", 6, 98, 1),
    "didi": ("滴滴出行", "DiDi", "transport", 14, 66, 7),
    "sinopec": ("中国石化", "Sinopec", "transport", 200, 420, 1),
    "hema": ("盒马鲜生", "Hema", "groceries", 58, 320, 4),
    "walmart": ("沃尔玛", "Walmart", "groceries", 80, 460, 2),
    "trip": ("携程", "Trip.com", "travel", 380, 2600, 0.4),
    "china_mobile": ("中国移动", "China Mobile", "phone", 58, 128, 0),
    "state_grid": ("国家电网", "State Grid", "utilities", 120, 360, 0),
}
CUSTOMERS = [
    # id, name_zh, name_en, language, risk, tier, phone, salary, rent
    (
        "C001",
        "李明",
        "Li Ming",
        "zh",
        3,
        "gold",
        "13812345678",
        D("18500.00"),
        D("4500.00"),
    ),
    (
        "C002",
        "艾玛·沃克",
        "Emma Walker",
        "en",
        4,
        "standard",
        "13987654321",
        D("22000.00"),
        D("6800.00"),
    ),
    (
        "C003",
        "王芳",
        "Wang Fang",
        "zh",
        2,
        "private",
        "13700001111",
        D("9800.00"),
        None,
    ),
]
ACCOUNTS = {  # customer: [(type, number, balance, daily limit)]
    "C001": [
        ("current", "6217001234567890123", D("28650.32"), D("50000.00")),
        ("savings", "6217001234567890456", D("150000.00"), D("20000.00")),
    ],
    "C002": [
        ("current", "6217009876543210987", D("12480.75"), D("50000.00")),
        ("savings", "6217009876543210654", D("45000.00"), D("20000.00")),
    ],
    "C003": [
        ("current", "6217005555666677778", D("6230.10"), D("50000.00")),
        ("savings", "6217005555666677789", D("320000.00"), D("20000.00")),
    ],
    "BANK": [("clearing", "9999000000000000001", D("0.00"), D("0.00"))],
}
CARDS = {  # customer: [(type, product, last4, credit limit, outstanding)]
    "C001": [
        ("debit", "示范借记卡 Demo Debit", "0123", None, None),
        (
            "credit",
            "示范白金信用卡 Demo Platinum Credit",
            "4821",
            D("50000.00"),
            D("8432.18"),
        ),
    ],
    "C002": [
        ("debit", "示范借记卡 Demo Debit", "0987", None, None),
        (
            "credit",
            "示范标准信用卡 Demo Classic Credit",
            "7310",
            D("30000.00"),
            D("12650.40"),
        ),
    ],
    "C003": [
        ("debit", "示范借记卡 Demo Debit", "7778", None, None),
        (
            "credit",
            "示范钻石信用卡 Demo Diamond Credit",
            "9055",
            D("100000.00"),
            D("2310.00"),
        ),
    ],
}
PAYEES = {  # customer: [(name, aliases, bank, account number, internal owner or None)]
    "C001": [
        ("张伟", "小张|老张|zhang wei", "招商银行", "6225880112345678", None),
        ("王芳", "芳姐|wang fang", "示范银行", "6217005555666677778", "C003"),
        ("妈妈", "老妈|我妈|妈|母亲|mom|mum", "建设银行", "6227001234509876", None),
        ("房东", "房东|landlord|赵先生", "工商银行", "6222020200112233445", None),
        ("Emma Walker", "emma|艾玛", "示范银行", "6217009876543210987", "C002"),
    ],
    "C002": [
        ("Alice Zhang", "alice", "Bank of China", "6013820000123456", None),
        ("Bob Chen", "bob|陈波", "示范银行", "6217005555666677778", "C003"),
        (
            "Mom",
            "mom|mum|my mom|my mother|妈妈",
            "HSBC China",
            "6222600260001234",
            None,
        ),
        ("Landlord", "my landlord|landlord|房东", "ICBC", "6222020200998877665", None),
    ],
    "C003": [
        ("李明", "小李|li ming", "示范银行", "6217001234567890123", "C001"),
        ("女儿", "闺女|我女儿|daughter", "农业银行", "6228480012345678", None),
    ],
}
RATES = [  # version, effective from, home status, min term, max term, annual rate %
    ("2026-04", date(2026, 4, 20), "first", 1, 5, D("2.8500")),
    ("2026-04", date(2026, 4, 20), "first", 6, 30, D("3.3000")),
    ("2026-04", date(2026, 4, 20), "second", 1, 5, D("3.2500")),
    ("2026-04", date(2026, 4, 20), "second", 6, 30, D("3.7000")),
    ("2026-10", date(2026, 10, 20), "first", 1, 5, D("2.6000")),
    ("2026-10", date(2026, 10, 20), "first", 6, 30, D("3.0500")),
    ("2026-10", date(2026, 10, 20), "second", 1, 5, D("3.0000")),
    ("2026-10", date(2026, 10, 20), "second", 6, 30, D("3.4500")),
]
PRODUCTS = [  # code, zh, en, risk, term days, min amount, benchmark
    ("FA-CASH01", "天天盈现金管理", "Daily Cash Plus", 1, 0, D("1.00"), "1.60%-1.90%"),
    ("FA-FIX90", "稳享90天定开", "Steady 90-Day", 2, 90, D("10000.00"), "2.30%-2.70%"),
    (
        "FA-BOND180",
        "债券精选180天",
        "Bond Select 180",
        2,
        180,
        D("10000.00"),
        "2.60%-3.20%",
    ),
    (
        "FA-MIX365",
        "稳健混合一年期",
        "Balanced Mix 1Y",
        3,
        365,
        D("50000.00"),
        "3.00%-4.50%",
    ),
    (
        "FA-EQ01",
        "成长股票精选",
        "Growth Equity Select",
        4,
        0,
        D("1000.00"),
        "80% CSI 300 + 20% bond index",
    ),
    (
        "FA-GLB01",
        "全球科技QDII",
        "Global Tech QDII",
        5,
        0,
        D("1000.00"),
        "MSCI ACWI IT",
    ),
]


def migrate(url: str) -> None:
    """Bring the schema at `url` to the newest Alembic revision."""
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "head")


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.utc)


def _transactions(
    customer: tuple, account_id: int, card_id: int, as_of: date
) -> list[m.Transaction]:
    cid, _, _, _, _, _, _, salary, rent = customer
    rng = random.Random(f"finassist-demo-{cid}")  # same data for the same as-of date
    start = as_of - timedelta(days=90)
    rows: list[m.Transaction] = []

    def add(
        day: date,
        amount: Decimal,
        category: str,
        merchant: str | None,
        note: str,
        card: int | None = None,
    ) -> None:
        rows.append(
            m.Transaction(
                customer_id=cid,
                account_id=account_id,
                card_id=card,
                posted_at=_at(day, rng.randint(8, 21), rng.randint(0, 59)),
                amount=amount,
                merchant_key=merchant,
                category=category,
                description=note,
            )
        )

    day = start
    while day <= as_of:
        if day.day == 10:
            add(day, salary, "salary", None, "salary / 工资")
        if day.day == 1 and rent:
            add(day, -rent, "housing", None, "rent / 房租")
        if day.day == 15:
            add(day, -D(rng.randint(58, 128)), "phone", "china_mobile", "phone bill")
            add(
                day, -D(rng.randint(120, 360)), "utilities", "state_grid", "electricity"
            )
        for key, (_, _, category, low, high, visits) in MERCHANTS.items():
            if visits and rng.random() < visits / 30:
                cents = rng.randint(low * 100, high * 100)
                add(day, -D(cents) / 100, category, key, key, card_id)
        day += timedelta(days=1)
    return rows


def seed(engine: Engine, as_of: date) -> dict[str, int]:
    """Replace all demo data; returns row counts per table."""
    now = datetime.now(timezone.utc)
    with session_scope(engine) as s:
        for model in (
            m.SatisfactionRating,
            m.RiskAlert,
            m.HandoffTicket,
            m.EmotionRecord,
            m.Transaction,
            m.Transfer,
            m.Interaction,
            m.ChannelIdentity,
            m.Payee,
            m.Card,
            m.Account,
            m.Customer,
            m.Merchant,
            m.Category,
            m.MortgageRate,
            m.WealthProduct,
        ):
            s.execute(delete(model))
        s.add_all(
            m.Category(key=k, name_zh=zh, name_en=en)
            for k, (zh, en) in CATEGORIES.items()
        )
        s.add_all(
            m.Merchant(key=k, name_zh=v[0], name_en=v[1], category=v[2])
            for k, v in MERCHANTS.items()
        )
        s.add(
            m.Customer(
                id="BANK",
                name_zh="示范银行清算",
                name_en="Demo Bank clearing",
                preferred_language="zh",
                risk_level=1,
                tier="system",
                created_at=now,
            )
        )
        for c in CUSTOMERS:
            s.add(
                m.Customer(
                    id=c[0],
                    name_zh=c[1],
                    name_en=c[2],
                    preferred_language=c[3],
                    risk_level=c[4],
                    tier=c[5],
                    phone=c[6],
                    created_at=now,
                )
            )
        s.flush()
        by_number: dict[str, m.Account] = {}
        for cid, rows in ACCOUNTS.items():
            for kind, number, balance, limit in rows:
                acc = m.Account(
                    customer_id=cid,
                    account_type=kind,
                    number=number,
                    balance=balance,
                    daily_transfer_limit=limit,
                    opened_at=now - timedelta(days=800),
                )
                s.add(acc)
                by_number[number] = acc
        s.flush()
        for cid, cards in CARDS.items():
            current = next(
                a
                for a in by_number.values()
                if a.customer_id == cid and a.account_type == "current"
            )
            for kind, product, last4, limit, outstanding in cards:
                s.add(
                    m.Card(
                        customer_id=cid,
                        account_id=current.id if kind == "debit" else None,
                        card_type=kind,
                        product_name=product,
                        last4=last4,
                        credit_limit=limit,
                        outstanding=outstanding,
                    )
                )
        for cid, payees in PAYEES.items():
            for name, aliases, bank, number, owner in payees:
                s.add(
                    m.Payee(
                        customer_id=cid,
                        name=name,
                        aliases=aliases,
                        bank_name=bank,
                        account_number=number,
                        account_id=by_number[number].id if owner else None,
                        created_at=now - timedelta(days=200),
                    )
                )
        s.add_all(
            m.MortgageRate(
                version=v,
                effective_from=f,
                home_status=h,
                min_term_years=lo,
                max_term_years=hi,
                annual_rate=r,
            )
            for v, f, h, lo, hi, r in RATES
        )
        s.add_all(
            m.WealthProduct(
                code=c,
                name_zh=zh,
                name_en=en,
                risk_level=r,
                term_days=t,
                min_amount=mn,
                benchmark=b,
            )
            for c, zh, en, r, t, mn, b in PRODUCTS
        )
        s.flush()
        for c in CUSTOMERS:
            current = next(
                a
                for a in by_number.values()
                if a.customer_id == c[0] and a.account_type == "current"
            )
            debit = s.execute(
                select(m.Card).where(
                    m.Card.customer_id == c[0], m.Card.card_type == "debit"
                )
            ).scalar_one()
            s.add_all(_transactions(c, current.id, debit.id, as_of))
        s.flush()
        counts = {
            t: s.execute(select(func.count()).select_from(model)).scalar_one()
            for t, model in (
                ("customers", m.Customer),
                ("accounts", m.Account),
                ("cards", m.Card),
                ("payees", m.Payee),
                ("transactions", m.Transaction),
                ("mortgage_rates", m.MortgageRate),
                ("wealth_products", m.WealthProduct),
            )
        }
    return counts


def main(argv: list[str] | None = None) -> int:
    """Command line: migrate, then seed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", default=None, help="database URL (default: DATABASE_URL)"
    )
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=date.today(),
        help="last day of the generated history (YYYY-MM-DD)",
    )
    args = parser.parse_args(argv)
    url = args.url or get_settings().database_url
    migrate(url)
    engine = make_engine(url)
    counts = seed(engine, args.as_of)
    engine.dispose()
    shown = url.split("@")[-1] if "@" in url else url
    print(
        f"seed: {shown} as of {args.as_of}: "
        + ", ".join(f"{k}={v}" for k, v in counts.items())
    )
    print("seed: demo customers C001 李明 (zh), C002 Emma Walker (en), C003 王芳 (zh)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
