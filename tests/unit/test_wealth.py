"""actions.wealth.recommend with hand-built money flows and product catalogues."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actions.profile_db.repository import ProductView, SpendingProfile
from actions.wealth import MAX_PICKS, RESERVE_MONTHS, recommend
from scripts.seed_profiles import PRODUCTS

D = Decimal
ZERO = D("0.00")
RISK_LEVELS = [1, 2, 3, 4, 5]


def product(code: str, risk: int, term_days: int, minimum: str) -> ProductView:
    return ProductView(
        code, f"{code} zh", f"{code} en", risk, term_days, D(minimum), "-"
    )


def flow(balance: str, spending: str, income: str = "20000.00") -> SpendingProfile:
    return SpendingProfile(D(balance), D(income), D(spending), 3)


# A catalogue with liquid and fixed-term products at every risk level.
CATALOGUE = [
    product("CASH1", 1, 0, "1.00"),
    product("MMF2", 2, 0, "100.00"),
    product("FIX90", 2, 90, "10000.00"),
    product("BOND180", 2, 180, "10000.00"),
    product("MIX365", 3, 365, "50000.00"),
    product("LONG730", 3, 730, "20000.00"),
    product("FIX4-120", 4, 120, "30000.00"),
    product("EQ4", 4, 0, "1000.00"),
    product("GLB5", 5, 0, "1000.00"),
    product("FIX5-270", 5, 270, "100000.00"),
]
SEED_CATALOGUE = [
    ProductView(code, zh, en, risk, term, minimum, bench)
    for code, zh, en, risk, term, minimum, bench in PRODUCTS
]
PROFILES = {
    "rich": flow("1000000.00", "8000.00"),  # investable 952,000
    "middle": flow("60000.00", "5000.00"),  # investable 30,000
    "just-enough": flow("40000.00", "5000.00"),  # investable 10,000 = fixed minimum
    "below-minimum": flow("39999.99", "5000.00"),  # investable 9,999.99
    "all-reserve": flow("25000.00", "5000.00"),  # balance below the reserve
    "nothing": flow("0.00", "0.00", "0.00"),
}


@pytest.mark.parametrize(
    ("balance", "spending", "reserve", "investable"),
    [
        ("100000.00", "5000.00", "30000.00", "70000.00"),
        ("30000.00", "5000.00", "30000.00", "0.00"),  # exactly the reserve
        ("20000.00", "5000.00", "30000.00", "0.00"),  # never negative
        ("0.00", "0.00", "0.00", "0.00"),
        ("12345.67", "1234.56", "7407.36", "4938.31"),
        ("178650.32", "12904.04", "77424.24", "101226.08"),
        ("5000.00", "0.00", "0.00", "5000.00"),  # no spending: nothing is held back
    ],
)
def test_reserve_is_six_months_of_spending(
    balance: str, spending: str, reserve: str, investable: str
) -> None:
    assert RESERVE_MONTHS == 6
    result = recommend(flow(balance, spending), 3, CATALOGUE)
    assert result.reserve == D(reserve)
    assert result.reserve == D(spending) * RESERVE_MONTHS
    assert result.investable == D(investable)
    assert isinstance(result.reserve, Decimal)
    assert isinstance(result.investable, Decimal)


def test_reserve_is_rounded_to_cents() -> None:
    result = recommend(flow("1000.00", "0.005"), 1, CATALOGUE)
    assert result.reserve == D("0.03")  # 0.005 x 6 = 0.030
    assert result.investable == D("999.97")


@pytest.mark.parametrize("profile", list(PROFILES), ids=list(PROFILES))
@pytest.mark.parametrize("risk_level", RISK_LEVELS)
@pytest.mark.parametrize(
    "catalogue", [CATALOGUE, SEED_CATALOGUE], ids=["hand-built", "seed"]
)
def test_never_recommends_above_the_risk_level(
    profile: str, risk_level: int, catalogue: list[ProductView]
) -> None:
    picks = recommend(PROFILES[profile], risk_level, catalogue).products
    assert all(p.risk_level <= risk_level for p in picks), [p.code for p in picks]
    assert all(p in catalogue for p in picks)
    assert len({p.code for p in picks}) == len(picks)  # no product twice
    assert len(picks) <= MAX_PICKS


@pytest.mark.parametrize("risk_level", RISK_LEVELS)
def test_only_products_above_the_risk_level_give_nothing(risk_level: int) -> None:
    above = [p for p in CATALOGUE if p.risk_level > risk_level]
    result = recommend(PROFILES["rich"], risk_level, above)
    assert result.products == ()


def test_empty_catalogue() -> None:
    result = recommend(PROFILES["rich"], 5, [])
    assert result.products == ()
    assert result.investable == D("952000.00")


@pytest.mark.parametrize("profile", ["below-minimum", "all-reserve", "nothing"])
@pytest.mark.parametrize("risk_level", RISK_LEVELS)
@pytest.mark.parametrize(
    "catalogue", [CATALOGUE, SEED_CATALOGUE], ids=["hand-built", "seed"]
)
def test_nothing_fixed_term_below_the_minimums(
    profile: str, risk_level: int, catalogue: list[ProductView]
) -> None:
    result = recommend(PROFILES[profile], risk_level, catalogue)
    fixed_minimum = min(p.min_amount for p in catalogue if p.term_days > 0)
    assert result.investable < fixed_minimum
    assert [p.code for p in result.products if p.term_days > 0] == []


@pytest.mark.parametrize("risk_level", RISK_LEVELS)
def test_nothing_above_the_reserve_leaves_only_the_liquid_product(
    risk_level: int,
) -> None:
    result = recommend(PROFILES["all-reserve"], risk_level, CATALOGUE)
    assert result.investable == ZERO
    assert [p.code for p in result.products] == ["CASH1"]


def test_fixed_term_product_at_exactly_its_minimum() -> None:
    result = recommend(PROFILES["just-enough"], 2, CATALOGUE)
    assert result.investable == D("10000.00")
    assert [p.code for p in result.products] == ["CASH1", "BOND180"]


@pytest.mark.parametrize("risk_level", RISK_LEVELS)
def test_at_most_three_products_from_a_large_catalogue(risk_level: int) -> None:
    many = [
        product(f"P{risk}-{term}", risk, term, "1.00")
        for risk in RISK_LEVELS
        for term in (0, 30, 90, 180, 365, 730)
    ]
    picks = recommend(PROFILES["rich"], risk_level, many).products
    assert MAX_PICKS == 3
    assert 1 <= len(picks) <= 3
    assert all(p.risk_level <= risk_level for p in picks)


@pytest.mark.parametrize(
    ("profile", "risk_level", "expected"),
    [
        ("rich", 1, ["FA-CASH01"]),
        ("rich", 2, ["FA-CASH01", "FA-BOND180"]),
        ("rich", 3, ["FA-CASH01", "FA-MIX365"]),
        ("rich", 4, ["FA-CASH01", "FA-MIX365", "FA-EQ01"]),
        ("rich", 5, ["FA-CASH01", "FA-MIX365", "FA-GLB01"]),
        ("middle", 3, ["FA-CASH01", "FA-BOND180"]),  # 30,000 < Balanced Mix minimum
        ("middle", 4, ["FA-CASH01", "FA-BOND180", "FA-EQ01"]),
        ("below-minimum", 4, ["FA-CASH01", "FA-EQ01"]),
        ("below-minimum", 2, ["FA-CASH01"]),
        ("nothing", 5, ["FA-CASH01"]),
    ],
)
def test_picks_from_the_seed_catalogue(
    profile: str, risk_level: int, expected: list[str]
) -> None:
    picks = recommend(PROFILES[profile], risk_level, SEED_CATALOGUE).products
    assert [p.code for p in picks] == expected


@pytest.mark.parametrize(
    ("profile", "risk_level", "expected"),
    [
        ("rich", 1, ["CASH1"]),
        ("rich", 2, ["CASH1", "BOND180"]),
        ("rich", 3, ["CASH1", "MIX365", "LONG730"]),
        ("rich", 4, ["CASH1", "FIX4-120", "EQ4"]),
        ("rich", 5, ["CASH1", "FIX5-270", "GLB5"]),
        ("middle", 4, ["CASH1", "FIX4-120", "EQ4"]),
        ("middle", 5, ["CASH1", "FIX4-120", "GLB5"]),
    ],
)
def test_picks_from_the_hand_built_catalogue(
    profile: str, risk_level: int, expected: list[str]
) -> None:
    picks = recommend(PROFILES[profile], risk_level, CATALOGUE).products
    assert [p.code for p in picks] == expected
