"""Wealth recommendation: which products suit a customer's money flow and risk level.

Pure decision; never proposes a product above the customer's assessed risk level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from actions.money import quantize
from actions.profile_db.repository import ProductView, SpendingProfile

# Keep six months of spending liquid before investing: the common emergency-fund rule.
RESERVE_MONTHS = 6
MAX_PICKS = 3


@dataclass(frozen=True)
class Recommendation:
    """Products to suggest and the money they are sized on."""

    investable: Decimal
    reserve: Decimal
    products: tuple[ProductView, ...]


def recommend(
    profile: SpendingProfile, risk_level: int, products: Sequence[ProductView]
) -> Recommendation:
    """Choose up to three products for a customer.

    A liquid low-risk product first (it suits the reserve too), then the fixed-term
    product (up to a year) of the highest risk level allowed, longest term on a
    tie, then one at the customer's own level from R3 up; the last two must be
    affordable from the money above the reserve.

    Args:
        profile: balances and monthly income/spending over the last three months.
        risk_level: the customer's assessed risk tolerance, 1 (R1) to 5 (R5).
        products: the catalogue.

    Returns:
        The recommendation; `products` is empty when nothing fits.
    """
    reserve = quantize(profile.monthly_spending * RESERVE_MONTHS)
    investable = quantize(max(Decimal("0"), profile.total_balance - reserve))
    allowed = [p for p in products if p.risk_level <= risk_level]
    picks: list[ProductView] = []
    liquid = [p for p in allowed if p.term_days == 0 and p.risk_level <= 2]
    if liquid:
        picks.append(min(liquid, key=lambda p: p.risk_level))
    affordable = [p for p in allowed if p.min_amount <= investable and p not in picks]
    fixed = [p for p in affordable if 0 < p.term_days <= 365]
    if fixed:
        picks.append(max(fixed, key=lambda p: (p.risk_level, p.term_days)))
    own_level = [p for p in affordable if p.risk_level == risk_level and p not in picks]
    if own_level and risk_level >= 3:
        picks.append(own_level[0])
    return Recommendation(investable, reserve, tuple(picks[:MAX_PICKS]))
