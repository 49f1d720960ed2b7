"""Amount and history rules checked on every transfer, before any money moves.

Pure: `ProfileRepository.execute_transfer` builds the context inside the transfer's own
locked transaction and refuses the transfer when a rule fires; the action then records
the alerts.
Limits are in `rules.yml` (`transfer_rules`), versioned with the message rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from actions.money import quantize

# Shared with actions.risk.detector; not imported from it, so that the action server
# does not load spaCy just to check an amount.
RULES_FILE = Path(__file__).resolve().parent / "rules.yml"


@dataclass(frozen=True)
class TransferLimits:
    """The `transfer_rules` section of rules.yml."""

    ruleset: str
    reporting_threshold: Decimal
    near_threshold_ratio: Decimal
    structuring_window: timedelta
    structuring_min_count: int
    new_payee_age: timedelta
    new_payee_large_amount: Decimal
    new_payee_history_multiple: Decimal
    drain_ratio: Decimal
    drain_min_amount: Decimal
    versions: Mapping[str, int]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TransferLimits:
        """Parse the rules file's transfer section (amounts as exact decimals)."""
        raw = config["transfer_rules"]
        return cls(
            ruleset=str(config["version"]),
            reporting_threshold=Decimal(str(raw["reporting_threshold"])),
            near_threshold_ratio=Decimal(str(raw["near_threshold_ratio"])),
            structuring_window=timedelta(hours=int(raw["structuring_window_hours"])),
            structuring_min_count=int(raw["structuring_min_count"]),
            new_payee_age=timedelta(days=int(raw["new_payee_days"])),
            new_payee_large_amount=Decimal(str(raw["new_payee_large_amount"])),
            new_payee_history_multiple=Decimal(str(raw["new_payee_history_multiple"])),
            drain_ratio=Decimal(str(raw["drain_ratio"])),
            drain_min_amount=Decimal(str(raw["drain_min_amount"])),
            versions=dict(raw["rule_versions"]),
        )

    @property
    def near_threshold_floor(self) -> Decimal:
        """Amounts from here up to (not including) the threshold are 'just below'."""
        return quantize(self.reporting_threshold * self.near_threshold_ratio)


@dataclass(frozen=True)
class PastTransfer:
    """One earlier transfer of the customer (any payee)."""

    amount: Decimal
    created_at: datetime
    payee_id: int


@dataclass(frozen=True)
class TransferContext:
    """What the rules need to know about a transfer about to happen."""

    amount: Decimal
    payee_id: int
    payee_created_at: datetime
    source_balance: Decimal
    history: Sequence[PastTransfer]
    now: datetime


@dataclass(frozen=True)
class TransferRiskHit:
    """A transfer rule that fired, with a plain-language reason (no personal data).

    Field names match a message hit's, so both are stored the same way.
    """

    rule_id: str
    rule_version: int
    category: str
    score: float
    excerpt: str


@lru_cache(maxsize=1)
def default_limits() -> TransferLimits:
    """Limits from rules.yml, read once per process."""
    return TransferLimits.from_config(
        yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    )


def assess_transfer(
    ctx: TransferContext, limits: TransferLimits | None = None
) -> list[TransferRiskHit]:
    """Every transfer rule that fires for this transfer, strongest first.

    Args:
        ctx: the transfer and the customer's history.
        limits: the rules' limits (rules.yml by default).

    Returns:
        Structuring just below the reporting threshold, a large first payment to a new
        payee, or a new payee receiving most of the balance.
    """
    lim = limits or default_limits()
    hits: list[TransferRiskHit] = []
    floor, ceiling = lim.near_threshold_floor, lim.reporting_threshold
    if floor <= ctx.amount < ceiling:
        since = ctx.now - lim.structuring_window
        near = [
            t
            for t in ctx.history
            if t.created_at >= since and floor <= t.amount < ceiling
        ]
        if len(near) + 1 >= lim.structuring_min_count:
            total = quantize(sum((t.amount for t in near), ctx.amount))
            hits.append(
                TransferRiskHit(
                    "AML-STRUCTURING-HISTORY",
                    lim.versions["AML-STRUCTURING-HISTORY"],
                    "structuring",
                    0.85,
                    f"{len(near) + 1} transfers between {floor} and {ceiling} within "
                    f"{int(lim.structuring_window.total_seconds() // 3600)} h, "
                    f"total {total}",
                )
            )
    new_payee = ctx.now - ctx.payee_created_at < lim.new_payee_age
    paid_before = any(t.payee_id == ctx.payee_id for t in ctx.history)
    if new_payee and not paid_before:
        largest = max((t.amount for t in ctx.history), default=Decimal("0"))
        if ctx.amount >= lim.new_payee_large_amount and (
            ctx.amount > largest * lim.new_payee_history_multiple
        ):
            hits.append(
                TransferRiskHit(
                    "FRAUD-NEW-PAYEE-LARGE",
                    lim.versions["FRAUD-NEW-PAYEE-LARGE"],
                    "new_payee_large",
                    0.8,
                    f"first transfer of {ctx.amount} to a payee added "
                    f"{(ctx.now - ctx.payee_created_at).days} day(s) ago; largest "
                    f"earlier transfer {largest}",
                )
            )
        if (
            ctx.amount >= lim.drain_min_amount
            and ctx.source_balance > 0
            and ctx.amount >= ctx.source_balance * lim.drain_ratio
        ):
            share = (ctx.amount / ctx.source_balance * 100).quantize(Decimal("1"))
            hits.append(
                TransferRiskHit(
                    "FRAUD-NEW-PAYEE-DRAIN",
                    lim.versions["FRAUD-NEW-PAYEE-DRAIN"],
                    "new_payee_large",
                    0.75,
                    f"{share}% of the account balance to a payee added "
                    f"{(ctx.now - ctx.payee_created_at).days} day(s) ago",
                )
            )
    return sorted(hits, key=lambda h: -h.score)
