"""Typed reads and writes of the profile database; returns frozen dataclasses only."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from actions.errors import ServiceUnavailable, TransferRejected
from actions.money import quantize
from actions.profile_db import models as m
from actions.profile_db.session import session_scope
from actions.risk.transfers import PastTransfer, TransferContext

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CustomerProfile:
    """Who the customer is, for greetings and decisions."""

    id: str
    name_zh: str
    name_en: str
    preferred_language: str
    risk_level: int
    tier: str

    def name(self, language: str) -> str:
        """The customer's name in a language."""
        return self.name_zh if language == "zh" else self.name_en


@dataclass(frozen=True)
class AccountView:
    """A deposit account as shown to its owner."""

    id: int
    account_type: str
    masked_number: str
    currency: str
    balance: Decimal
    daily_transfer_limit: Decimal


@dataclass(frozen=True)
class CardView:
    """A card as shown to its owner (never the full number)."""

    id: int
    card_type: str
    product_name: str
    last4: str
    status: str
    credit_limit: Decimal | None
    available_credit: Decimal | None


@dataclass(frozen=True)
class PayeeView:
    """A saved recipient."""

    id: int
    name: str
    bank_name: str
    masked_account: str


@dataclass(frozen=True)
class TransferResult:
    """The outcome of a transfer; `replayed` when the same request came twice."""

    transfer_id: int
    amount: Decimal
    payee_name: str
    from_account: str
    balance_after: Decimal
    replayed: bool


@dataclass(frozen=True)
class TransactionLine:
    """One transaction in a search result."""

    posted_on: date
    merchant_zh: str
    merchant_en: str
    amount: Decimal


@dataclass(frozen=True)
class TransactionSearch:
    """Totals and the largest items of a transaction search."""

    start: date
    end: date
    count: int
    spent: Decimal
    received: Decimal
    top: tuple[TransactionLine, ...]


@dataclass(frozen=True)
class SpendingProfile:
    """Three months of money flow, the input of a wealth recommendation."""

    total_balance: Decimal
    monthly_income: Decimal
    monthly_spending: Decimal
    months: int


@dataclass(frozen=True)
class RateRow:
    """One band of the mortgage rate table."""

    version: str
    home_status: str
    min_term_years: int
    max_term_years: int
    annual_rate: Decimal


@dataclass(frozen=True)
class ProductView:
    """A wealth product, with names in both languages."""

    code: str
    name_zh: str
    name_en: str
    risk_level: int
    term_days: int
    min_amount: Decimal
    benchmark: str


@dataclass(frozen=True)
class TicketView:
    """A handoff ticket as the agent desk shows it."""

    id: int
    conversation_id: str
    customer_id: str | None
    customer_name: str | None
    channel: str
    language: str
    reason: str
    topic: str | None
    emotion: str | None
    urgent: bool
    base_priority: int
    summary: str
    status: str
    agent: str | None
    created_at: datetime
    accepted_at: datetime | None
    released_at: datetime | None


OPEN_STATUSES = ("waiting", "active")


@dataclass(frozen=True)
class InteractionView:
    """One conversation in the customer's history (for continuity across channels)."""

    id: int
    conversation_id: str
    channel: str
    topic: str | None
    outcome: str | None
    pending_task: str | None
    context: dict[str, Any]
    language: str | None
    updated_at: datetime


REVIEW_STATUSES = ("cleared", "confirmed", "released")
# open → cleared (false alarm) or confirmed (real risk); confirmed → released (the
# customer was verified in person). Transfers are held while open or confirmed.
REVIEW_TRANSITIONS = {"open": ("cleared", "confirmed"), "confirmed": ("released",)}
HOLD_STATUSES = ("open", "confirmed")
RiskRules = Callable[[TransferContext], Sequence[Any]]


class AlertAlreadyReviewed(ValueError):
    """A risk alert was cleared or confirmed before; the first decision stands."""


@dataclass(frozen=True)
class RiskAlertView:
    """A risk alert as compliance staff see it (the excerpt is masked)."""

    id: int
    conversation_id: str
    customer_id: str | None
    channel: str
    language: str
    source: str
    rule_id: str
    rule_version: int
    ruleset: str
    category: str
    score: float
    excerpt: str
    amount: Decimal | None
    action_taken: str
    status: str
    reviewer: str | None
    review_note: str | None
    created_at: datetime
    reviewed_at: datetime | None


@dataclass(frozen=True)
class DisplayName:
    """A merchant or category name in both languages."""

    key: str
    name_zh: str
    name_en: str


def mask_number(number: str, keep: int = 4) -> str:
    """Show only the last `keep` digits: ``**** 1234``."""
    digits = re.sub(r"\D", "", number)
    return f"**** {digits[-keep:]}" if digits else "****"


def _norm(text: str) -> str:
    return re.sub(r"[\s,.!?，。！？、:：'\"]+", "", text).lower()


class ProfileRepository:
    """All profile-database access of the actions, one session per call."""

    def __init__(
        self, engine: Engine, clock: Clock = utc_now, zone: tzinfo = timezone.utc
    ) -> None:
        self._engine = engine
        self._clock = clock
        # Days ("today" for the daily limit, "last month" for a search) are the bank's
        # local days, not UTC days.
        self._zone = zone

    @property
    def engine(self) -> Engine:
        """The engine underneath, for units of work outside the repository (erasure)."""
        return self._engine

    def _now(self) -> datetime:
        """The clock's time in UTC; a naive clock raises NaiveDatetimeError."""
        return m.as_utc(self._clock())

    def _day_start(self, day: date) -> datetime:
        """The first instant (UTC) of a local day of the bank.

        On a day whose midnight is skipped by a daylight-saving change, that is the
        change itself (fold=0 takes the offset before it).
        """
        return datetime.combine(day, time.min, tzinfo=self._zone).astimezone(
            timezone.utc
        )

    def _day_bounds(self, first: date, last: date) -> tuple[datetime, datetime]:
        """[start, end) in UTC of the local days `first` to `last`, both inclusive."""
        return self._day_start(first), self._day_start(last + timedelta(days=1))

    def local_today(self) -> date:
        """Today in the bank's time zone, by the repository's clock."""
        return self._now().astimezone(self._zone).date()

    def _scope(self):  # type: ignore[no-untyped-def]
        return session_scope(self._engine)

    def _run(self, work: Callable[[Session], object]) -> object:
        try:
            with self._scope() as session:
                return work(session)
        except OperationalError as exc:
            raise ServiceUnavailable("profile database unavailable") from exc

    # --- customers -------------------------------------------------------------
    def get_customer(self, customer_id: str) -> CustomerProfile | None:
        """The profile of a customer, or None for an unknown id."""

        def work(s: Session) -> CustomerProfile | None:
            c = s.get(m.Customer, customer_id)
            if c is None:
                return None
            return CustomerProfile(
                c.id, c.name_zh, c.name_en, c.preferred_language, c.risk_level, c.tier
            )

        return self._run(work)  # type: ignore[return-value]

    def retail_customers(self) -> list[CustomerProfile]:
        """Customers who can chat, by id.

        Not the bank's clearing books, and not erased customers (erasure removes the
        phone number).
        """

        def work(s: Session) -> list[CustomerProfile]:
            clearing = select(m.Account.customer_id).where(
                m.Account.account_type == "clearing"
            )
            rows = s.execute(
                select(m.Customer)
                .where(m.Customer.id.not_in(clearing), m.Customer.phone.is_not(None))
                .order_by(m.Customer.id)
            ).scalars()
            return [
                CustomerProfile(
                    c.id,
                    c.name_zh,
                    c.name_en,
                    c.preferred_language,
                    c.risk_level,
                    c.tier,
                )
                for c in rows
            ]

        return self._run(work)  # type: ignore[return-value]

    def accounts(self, customer_id: str) -> list[AccountView]:
        """The customer's active deposit accounts, current account first."""

        def work(s: Session) -> list[AccountView]:
            rows = s.execute(
                select(m.Account)
                .where(
                    m.Account.customer_id == customer_id, m.Account.status == "active"
                )
                .order_by(m.Account.account_type, m.Account.id)
            ).scalars()
            return [_account_view(a) for a in rows]

        return self._run(work)  # type: ignore[return-value]

    def cards(self, customer_id: str) -> list[CardView]:
        """The customer's cards (any status), credit cards first."""

        def work(s: Session) -> list[CardView]:
            rows = s.execute(
                select(m.Card)
                .where(m.Card.customer_id == customer_id)
                .order_by(m.Card.card_type, m.Card.id)
            ).scalars()
            return [_card_view(c) for c in rows]

        return self._run(work)  # type: ignore[return-value]

    def freeze_cards(self, customer_id: str, card_type: str | None) -> list[CardView]:
        """Freeze the customer's active cards of a type (all types for None or "all").

        Freezing is idempotent: an already frozen card is reported, not changed.

        Returns:
            The matching cards after the change.
        """

        def work(s: Session) -> list[CardView]:
            query = select(m.Card).where(m.Card.customer_id == customer_id)
            if card_type and card_type != "all":
                query = query.where(m.Card.card_type == card_type)
            cards = list(s.execute(query.order_by(m.Card.id)).scalars())
            for card in cards:
                if card.status == "active":
                    card.status = "frozen"
                    card.frozen_at = self._now()
                    card.freeze_reason = "reported_lost"
            s.flush()
            return [_card_view(c) for c in cards]

        return self._run(work)  # type: ignore[return-value]

    # --- payees and transfers ------------------------------------------------------
    def find_payee(self, customer_id: str, text: str) -> PayeeView | None:
        """Find the saved payee a customer means ("张伟", "给我妈", "to Alice").

        Args:
            customer_id: the owner of the payee list.
            text: a name, nickname, or a short phrase containing one.

        Returns:
            The payee whose name or alias matches best (longest match), or None.
        """
        wanted = _norm(text)
        if not wanted:
            return None

        def work(s: Session) -> PayeeView | None:
            best: tuple[int, m.Payee] | None = None
            for payee in s.execute(
                select(m.Payee).where(m.Payee.customer_id == customer_id)
            ).scalars():
                for alias in [payee.name, *payee.aliases.split("|")]:
                    key = _norm(alias)
                    if (
                        key
                        and (key == wanted or key in wanted)
                        and (best is None or len(key) > best[0])
                    ):
                        best = (len(key), payee)
            if best is None:
                return None
            p = best[1]
            return PayeeView(p.id, p.name, p.bank_name, mask_number(p.account_number))

        return self._run(work)  # type: ignore[return-value]

    def transferred_today(self, account_id: int) -> Decimal:
        """Completed transfers from an account on the bank's local day (the limit's)."""
        today = self.local_today()  # one clock read: both bounds of the same day
        lo, hi = self._day_bounds(today, today)

        def work(s: Session) -> Decimal:
            return _sent_between(s, account_id, lo, hi)

        return self._run(work)  # type: ignore[return-value]

    def execute_transfer(
        self,
        *,
        customer_id: str,
        payee_id: int,
        amount: Decimal,
        idempotency_key: str,
        account_type: str | None = None,
        conversation_id: str | None = None,
        max_single: Decimal | None = None,
        risk_rules: RiskRules | None = None,
    ) -> TransferResult:
        """Move money to a saved payee: debit and credit in one database transaction.

        The same `idempotency_key` returns the first result instead of paying twice.
        `risk_rules` (actions.risk.transfers.assess_transfer) runs inside the same
        transaction, after the accounts are locked, so that two transfers racing in
        two conversations both see each other in the history. The daily limit is the
        bank's local day of the moment the accounts are locked, which is also the
        transfer's time.

        Raises:
            TransferRejected: reason ``invalid_amount``, ``no_account``,
                ``unknown_payee``, ``risk_hold`` (an alert under review),
                ``risk_rules`` (with the hits as `details`), ``insufficient_funds``,
                ``over_single_limit`` or ``daily_limit``.
        """
        amount = quantize(amount)
        if amount <= 0:
            raise TransferRejected("invalid_amount")
        if max_single is not None and amount > max_single:
            raise TransferRejected("over_single_limit")

        def work(s: Session) -> TransferResult:
            existing = s.execute(
                select(m.Transfer).where(m.Transfer.idempotency_key == idempotency_key)
            ).scalar_one_or_none()
            if existing is not None:
                return _replayed(s, existing)
            payee = s.execute(
                select(m.Payee).where(
                    m.Payee.id == payee_id, m.Payee.customer_id == customer_id
                )
            ).scalar_one_or_none()
            if payee is None:
                raise TransferRejected("unknown_payee")
            if _transfers_held(s, customer_id):  # an alert is open or confirmed
                raise TransferRejected("risk_hold")
            source, credit = _lock_accounts(s, customer_id, account_type, payee)
            # One instant for the day, the risk windows and the records: a clock read
            # twice could put the limit on one side of midnight and the transfer on
            # the other.
            now = self._now()
            if risk_rules is not None:
                ctx = _transfer_context(s, customer_id, payee, source, amount, now)
                hits = risk_rules(ctx)
                if hits:
                    raise TransferRejected("risk_rules", details=hits)
            if source.balance < amount:
                raise TransferRejected("insufficient_funds")
            today = now.astimezone(self._zone).date()
            sent_today = _sent_between(s, source.id, *self._day_bounds(today, today))
            if sent_today + amount > source.daily_transfer_limit:
                raise TransferRejected("daily_limit")
            transfer = m.Transfer(
                idempotency_key=idempotency_key,
                customer_id=customer_id,
                from_account_id=source.id,
                payee_id=payee.id,
                amount=amount,
                status="completed",
                conversation_id=conversation_id,
                created_at=now,
            )
            s.add(transfer)
            s.flush()
            source.balance = source.balance - amount
            s.add(
                m.Transaction(
                    customer_id=customer_id,
                    account_id=source.id,
                    posted_at=now,
                    amount=-amount,
                    category="transfer",
                    transfer_id=transfer.id,
                    description=f"transfer to {payee.name}",
                )
            )
            credit.balance = credit.balance + amount
            s.add(
                m.Transaction(
                    customer_id=credit.customer_id,
                    account_id=credit.id,
                    posted_at=now,
                    amount=amount,
                    category="transfer",
                    transfer_id=transfer.id,
                    description=f"transfer from {customer_id}",
                )
            )
            s.flush()
            return TransferResult(
                transfer.id,
                amount,
                payee.name,
                mask_number(source.number),
                quantize(source.balance),
                replayed=False,
            )

        try:
            return self._run(work)  # type: ignore[return-value]
        except IntegrityError:
            # A concurrent retry with the same key won the race: report its result.
            def replay(s: Session) -> TransferResult:
                existing = s.execute(
                    select(m.Transfer).where(
                        m.Transfer.idempotency_key == idempotency_key
                    )
                ).scalar_one_or_none()
                if existing is None:  # another constraint failed: nothing was written
                    raise ServiceUnavailable("transfer not recorded")
                return _replayed(s, existing)

            return self._run(replay)  # type: ignore[return-value]

    # --- transactions, wealth, rates --------------------------------------------------
    def search_transactions(
        self,
        customer_id: str,
        start: date,
        end: date,
        merchant: str | None = None,
        category: str | None = None,
        top: int = 3,
    ) -> TransactionSearch:
        """Totals of a customer's transactions on the local days `start` to `end`.

        Both days are inclusive and are the bank's days (FINASSIST_TZ), as are the
        dates of the listed lines.
        """
        lo, hi = self._day_bounds(start, end)

        def work(s: Session) -> TransactionSearch:
            conds = [
                m.Transaction.customer_id == customer_id,
                m.Transaction.posted_at >= lo,
                m.Transaction.posted_at < hi,
            ]
            if merchant:
                conds.append(m.Transaction.merchant_key == merchant)
            if category:
                conds.append(m.Transaction.category == category)
            where = and_(*conds)
            count, spent, received = s.execute(
                select(
                    func.count(m.Transaction.id),
                    func.coalesce(
                        func.sum(m.Transaction.amount).filter(m.Transaction.amount < 0),
                        0,
                    ),
                    func.coalesce(
                        func.sum(m.Transaction.amount).filter(m.Transaction.amount > 0),
                        0,
                    ),
                ).where(where)
            ).one()
            rows = s.execute(
                select(m.Transaction, m.Merchant)
                .outerjoin(m.Merchant, m.Merchant.key == m.Transaction.merchant_key)
                .where(where, m.Transaction.amount < 0)
                .order_by(m.Transaction.amount, m.Transaction.posted_at.desc())
                .limit(top)
            ).all()
            lines = tuple(
                TransactionLine(
                    t.posted_at.astimezone(self._zone).date(),
                    mer.name_zh if mer else t.description,
                    mer.name_en if mer else t.description,
                    quantize(-Decimal(t.amount)),
                )
                for t, mer in rows
            )
            return TransactionSearch(
                start,
                end,
                int(count),
                quantize(-Decimal(spent)),
                quantize(Decimal(received)),
                lines,
            )

        return self._run(work)  # type: ignore[return-value]

    def spending_profile(
        self, customer_id: str, since: date, months: int = 3
    ) -> SpendingProfile:
        """Average monthly income and spending since `since`, and total balance."""
        lo = self._day_start(since)

        def work(s: Session) -> SpendingProfile:
            income, spending = s.execute(
                select(
                    func.coalesce(
                        func.sum(m.Transaction.amount).filter(m.Transaction.amount > 0),
                        0,
                    ),
                    func.coalesce(
                        func.sum(m.Transaction.amount).filter(m.Transaction.amount < 0),
                        0,
                    ),
                ).where(
                    m.Transaction.customer_id == customer_id,
                    m.Transaction.posted_at >= lo,
                )
            ).one()
            balance = s.execute(
                select(func.coalesce(func.sum(m.Account.balance), 0)).where(
                    m.Account.customer_id == customer_id, m.Account.status == "active"
                )
            ).scalar_one()
            return SpendingProfile(
                quantize(Decimal(balance)),
                quantize(Decimal(income) / months),
                quantize(-Decimal(spending) / months),
                months,
            )

        return self._run(work)  # type: ignore[return-value]

    def wealth_products(self, max_risk: int) -> list[ProductView]:
        """Active products at or below a risk level, lowest risk first."""

        def work(s: Session) -> list[ProductView]:
            rows = s.execute(
                select(m.WealthProduct)
                .where(
                    m.WealthProduct.is_active.is_(True),
                    m.WealthProduct.risk_level <= max_risk,
                )
                .order_by(m.WealthProduct.risk_level, m.WealthProduct.term_days)
            ).scalars()
            return [
                ProductView(
                    p.code,
                    p.name_zh,
                    p.name_en,
                    p.risk_level,
                    p.term_days,
                    quantize(p.min_amount),
                    p.benchmark,
                )
                for p in rows
            ]

        return self._run(work)  # type: ignore[return-value]

    def mortgage_rates(self, home_status: str, on: date) -> list[RateRow]:
        """The bands of the newest rate-table version in force on a date."""

        def work(s: Session) -> list[RateRow]:
            version = s.execute(
                select(m.MortgageRate.version)
                .where(m.MortgageRate.effective_from <= on)
                .order_by(m.MortgageRate.effective_from.desc())
                .limit(1)
            ).scalar_one_or_none()
            if version is None:
                return []
            rows = s.execute(
                select(m.MortgageRate)
                .where(
                    m.MortgageRate.version == version,
                    m.MortgageRate.home_status == home_status,
                )
                .order_by(m.MortgageRate.min_term_years)
            ).scalars()
            return [
                RateRow(
                    r.version,
                    r.home_status,
                    r.min_term_years,
                    r.max_term_years,
                    Decimal(r.annual_rate),
                )
                for r in rows
            ]

        return self._run(work)  # type: ignore[return-value]

    def display_name(self, kind: str, key: str) -> DisplayName | None:
        """Bilingual display name of a merchant or category key."""
        model = m.Merchant if kind == "merchant" else m.Category

        def work(s: Session) -> DisplayName | None:
            row = s.get(model, key)
            return DisplayName(row.key, row.name_zh, row.name_en) if row else None

        return self._run(work)  # type: ignore[return-value]

    # --- channels and interactions ----------------------------------------------
    def record_channel_identity(
        self, customer_id: str, channel: str, external_id: str
    ) -> None:
        """Remember that a channel identity (conversation id) belongs to a customer."""

        def work(s: Session) -> None:
            now = self._now()
            row = s.execute(
                select(m.ChannelIdentity).where(
                    m.ChannelIdentity.channel == channel,
                    m.ChannelIdentity.external_id == external_id,
                )
            ).scalar_one_or_none()
            if row is None:
                s.add(
                    m.ChannelIdentity(
                        customer_id=customer_id,
                        channel=channel,
                        external_id=external_id,
                        first_seen_at=now,
                        last_seen_at=now,
                    )
                )
            else:
                # A conversation id belongs to whoever proved their identity last.
                row.customer_id, row.last_seen_at = customer_id, now

        self._run(work)

    def record_emotion(
        self,
        *,
        conversation_id: str,
        customer_id: str | None,
        emotion: str,
        score: float,
        urgent: bool,
        intent: str | None,
        topic: str | None,
    ) -> None:
        """Store the emotion of one customer message (the text is not stored here)."""

        def work(s: Session) -> None:
            s.add(
                m.EmotionRecord(
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    emotion=emotion,
                    score=score,
                    urgent=urgent,
                    intent=intent,
                    topic=topic,
                    created_at=self._now(),
                )
            )

        self._run(work)

    # --- handoff tickets ---------------------------------------------------------
    def open_handoff(
        self,
        *,
        conversation_id: str,
        customer_id: str | None,
        channel: str,
        language: str,
        reason: str,
        topic: str | None,
        emotion: str | None,
        urgent: bool,
        base_priority: int,
        summary: str,
    ) -> tuple[TicketView, bool]:
        """Queue a conversation for an agent; an open ticket is reused, not doubled.

        Returns:
            The ticket and whether it was created now.
        """

        def work(s: Session) -> tuple[TicketView, bool]:
            existing = s.execute(
                select(m.HandoffTicket)
                .where(
                    m.HandoffTicket.conversation_id == conversation_id,
                    m.HandoffTicket.status.in_(OPEN_STATUSES),
                )
                .limit(1)
            ).scalar_one_or_none()
            if existing is not None:
                if base_priority > existing.base_priority:  # e.g. a risk hit now
                    existing.base_priority, existing.reason = base_priority, reason
                    s.flush()
                return _ticket_view(s, existing), False
            ticket = m.HandoffTicket(
                conversation_id=conversation_id,
                customer_id=customer_id,
                channel=channel,
                language=language,
                reason=reason,
                topic=topic,
                emotion=emotion,
                urgent=urgent,
                base_priority=base_priority,
                summary=summary,
                status="waiting",
                created_at=self._now(),
            )
            s.add(ticket)
            s.flush()
            return _ticket_view(s, ticket), True

        return self._run(work)  # type: ignore[return-value]

    def open_tickets(self) -> list[TicketView]:
        """Waiting and active tickets, oldest first (the desk orders by priority)."""

        def work(s: Session) -> list[TicketView]:
            rows = s.execute(
                select(m.HandoffTicket)
                .where(m.HandoffTicket.status.in_(OPEN_STATUSES))
                .order_by(m.HandoffTicket.created_at, m.HandoffTicket.id)
            ).scalars()
            return [_ticket_view(s, t) for t in rows]

        return self._run(work)  # type: ignore[return-value]

    def ticket(self, ticket_id: int) -> TicketView | None:
        """One ticket by id."""

        def work(s: Session) -> TicketView | None:
            row = s.get(m.HandoffTicket, ticket_id)
            return _ticket_view(s, row) if row else None

        return self._run(work)  # type: ignore[return-value]

    def update_ticket(
        self, ticket_id: int, *, status: str, agent: str | None = None
    ) -> TicketView | None:
        """Move a ticket to ``active`` (an agent answered) or ``released``."""

        def work(s: Session) -> TicketView | None:
            row = s.get(m.HandoffTicket, ticket_id)
            if row is None:
                return None
            now = self._now()
            if status == "active" and row.accepted_at is None:
                row.accepted_at = now
            if status == "released":
                row.released_at = now
            row.status = status
            row.agent = agent or row.agent
            s.flush()
            return _ticket_view(s, row)

        return self._run(work)  # type: ignore[return-value]

    def record_interaction(
        self,
        *,
        customer_id: str,
        conversation_id: str,
        channel: str,
        topic: str | None,
        outcome: str | None,
        pending_task: str | None = None,
        context: dict[str, Any] | None = None,
        language: str | None = None,
    ) -> None:
        """Upsert the interaction-history row of a conversation.

        `context` holds the facts worth carrying to another channel (masked slot
        values such as home status and loan term), stored as JSON.
        """

        def work(s: Session) -> None:
            now = self._now()
            row = s.execute(
                select(m.Interaction)
                .where(
                    m.Interaction.conversation_id == conversation_id,
                    m.Interaction.customer_id == customer_id,
                )
                .order_by(m.Interaction.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                row = m.Interaction(
                    customer_id=customer_id,
                    conversation_id=conversation_id,
                    channel=channel,
                    started_at=now,
                )
                s.add(row)
            row.channel, row.topic, row.outcome = channel, topic, outcome
            row.pending_task, row.updated_at = pending_task, now
            if context is not None:
                row.context = json.dumps(context, ensure_ascii=False, sort_keys=True)
            if language is not None:
                row.language = language

        self._run(work)

    def last_interaction_elsewhere(
        self, customer_id: str, conversation_id: str, since: datetime
    ) -> InteractionView | None:
        """The customer's latest interaction in another conversation since `since`.

        Raises:
            NaiveDatetimeError: `since` has no time zone.
        """
        since = m.as_utc(since)

        def work(s: Session) -> InteractionView | None:
            row = s.execute(
                select(m.Interaction)
                .where(
                    m.Interaction.customer_id == customer_id,
                    m.Interaction.conversation_id != conversation_id,
                    m.Interaction.updated_at >= since,
                )
                .order_by(m.Interaction.updated_at.desc(), m.Interaction.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if row is None:
                return None
            try:
                context = json.loads(row.context) if row.context else {}
            except ValueError:
                context = {}
            return InteractionView(
                row.id,
                row.conversation_id,
                row.channel,
                row.topic,
                row.outcome,
                row.pending_task,
                context if isinstance(context, dict) else {},
                row.language,
                _aware(row.updated_at),  # type: ignore[arg-type]
            )

        return self._run(work)  # type: ignore[return-value]

    # --- satisfaction ------------------------------------------------------------
    def record_rating(
        self,
        *,
        conversation_id: str,
        customer_id: str | None,
        channel: str,
        score: int,
        comment: str | None = None,
    ) -> int:
        """Store a 1-5 satisfaction rating; returns its id.

        Raises:
            ValueError: the score is not 1-5.
        """
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ValueError("score must be an integer from 1 to 5")

        def work(s: Session) -> int:
            row = m.SatisfactionRating(
                conversation_id=conversation_id,
                customer_id=customer_id,
                channel=channel,
                score=score,
                comment=comment or None,
                created_at=self._now(),
            )
            s.add(row)
            s.flush()
            return int(row.id)

        return self._run(work)  # type: ignore[return-value]

    def conversation_owner(self, conversation_id: str) -> str | None:
        """The customer who logged in to a conversation (interaction history)."""

        def work(s: Session) -> str | None:
            return s.execute(
                select(m.Interaction.customer_id)
                .where(m.Interaction.conversation_id == conversation_id)
                .order_by(m.Interaction.id)
                .limit(1)
            ).scalar_one_or_none()

        return self._run(work)  # type: ignore[return-value]

    def ratings(self, conversation_id: str) -> list[tuple[int, str | None]]:
        """Scores and comments given in one conversation, oldest first."""

        def work(s: Session) -> list[tuple[int, str | None]]:
            rows = s.execute(
                select(m.SatisfactionRating.score, m.SatisfactionRating.comment)
                .where(m.SatisfactionRating.conversation_id == conversation_id)
                .order_by(m.SatisfactionRating.id)
            ).all()
            return [(int(score), comment) for score, comment in rows]

        return self._run(work)  # type: ignore[return-value]

    # --- risk alerts -------------------------------------------------------------
    def record_risk_alerts(
        self,
        *,
        conversation_id: str,
        customer_id: str | None,
        channel: str,
        language: str,
        source: str,
        ruleset: str,
        hits: list[dict[str, Any]],
        action_taken: str,
        amount: Decimal | None = None,
    ) -> list[RiskAlertView]:
        """Store one alert per rule that fired (evidence already masked).

        Args:
            conversation_id: the conversation the hit came from.
            customer_id: the verified customer, None when not logged in.
            channel: the input channel of the conversation.
            language: the customer's language.
            source: ``message`` or ``transfer``.
            ruleset: the version of rules.yml that fired.
            hits: ``rule_id``, ``rule_version``, ``category``, ``score``, ``excerpt``.
            action_taken: what was restricted (``handoff``, ``transfer_blocked``).
            amount: the transfer that was stopped, if any.
        """

        def work(s: Session) -> list[RiskAlertView]:
            now = self._now()
            rows = [
                m.RiskAlert(
                    conversation_id=conversation_id,
                    customer_id=customer_id,
                    channel=channel,
                    language=language,
                    source=source,
                    rule_id=str(h["rule_id"]),
                    rule_version=int(h["rule_version"]),
                    ruleset=ruleset,
                    category=str(h["category"]),
                    score=float(h["score"]),
                    excerpt=str(h.get("excerpt") or ""),
                    amount=quantize(amount) if amount is not None else None,
                    action_taken=action_taken,
                    status="open",
                    created_at=now,
                )
                for h in hits
            ]
            s.add_all(rows)
            s.flush()
            return [_risk_view(r) for r in rows]

        return self._run(work)  # type: ignore[return-value]

    def has_open_risk_alert(self, customer_id: str) -> bool:
        """Whether an alert holds this customer's transfers (open or confirmed)."""
        return self._run(lambda s: _transfers_held(s, customer_id))  # type: ignore[return-value]

    def risk_alerts(
        self, status: str | None = None, limit: int = 200
    ) -> list[RiskAlertView]:
        """Alerts for compliance review, newest first."""

        def work(s: Session) -> list[RiskAlertView]:
            query = select(m.RiskAlert).order_by(
                m.RiskAlert.created_at.desc(), m.RiskAlert.id.desc()
            )
            if status:
                query = query.where(m.RiskAlert.status == status)
            return [_risk_view(r) for r in s.execute(query.limit(limit)).scalars()]

        return self._run(work)  # type: ignore[return-value]

    def review_risk_alert(
        self, alert_id: int, *, status: str, reviewer: str, note: str = ""
    ) -> RiskAlertView | None:
        """Record a compliance decision (see REVIEW_TRANSITIONS).

        ``cleared`` (false alarm) and ``released`` lift the transfer hold; ``confirmed``
        (real risk) keeps it.

        Raises:
            ValueError: an unknown status.
            AlertAlreadyReviewed: the alert's current status does not allow it.
        """
        if status not in REVIEW_STATUSES:
            raise ValueError(f"status must be one of {REVIEW_STATUSES}")

        def work(s: Session) -> RiskAlertView | None:
            row = s.execute(
                select(m.RiskAlert).where(m.RiskAlert.id == alert_id).with_for_update()
            ).scalar_one_or_none()
            if row is None:
                return None
            if status not in REVIEW_TRANSITIONS.get(row.status, ()):
                # A decision is never silently overwritten by a second reviewer.
                raise AlertAlreadyReviewed(
                    f"alert {alert_id} is {row.status}; it cannot become {status}"
                )
            row.status, row.reviewer = status, reviewer
            row.review_note, row.reviewed_at = note, self._now()
            s.flush()
            return _risk_view(row)

        return self._run(work)  # type: ignore[return-value]

    # --- experiments -------------------------------------------------------------
    def record_experiment_assignment(
        self,
        *,
        experiment: str,
        variant: str,
        customer_id: str | None,
        conversation_id: str,
    ) -> str:
        """Store a conversation's A/B variant once; returns the variant that holds.

        A conversation keeps the first variant stored for it. Otherwise a customer's
        earlier stored variant wins over `variant`, so a changed split never moves a
        customer already in the experiment.
        """
        Assignment = m.ExperimentAssignment

        def held(s: Session) -> str | None:
            return s.execute(
                select(Assignment.variant)
                .where(
                    Assignment.experiment == experiment,
                    Assignment.conversation_id == conversation_id,
                )
                .limit(1)
            ).scalar_one_or_none()

        def work(s: Session) -> str:
            stored = held(s)
            if stored is not None:
                return stored
            chosen = variant
            if customer_id:
                earlier = s.execute(
                    select(Assignment.variant)
                    .where(
                        Assignment.experiment == experiment,
                        Assignment.customer_id == customer_id,
                    )
                    .order_by(Assignment.id)
                    .limit(1)
                ).scalar_one_or_none()
                chosen = earlier or variant
            s.add(
                Assignment(
                    experiment=experiment,
                    variant=chosen,
                    customer_id=customer_id,
                    conversation_id=conversation_id,
                    assigned_at=self._now(),
                )
            )
            s.flush()
            return chosen

        try:
            return self._run(work)  # type: ignore[return-value]
        except IntegrityError:  # another turn of this conversation stored it first
            return self._run(held) or variant  # type: ignore[return-value]


def _ticket_view(s: Session, t: m.HandoffTicket) -> TicketView:
    customer = s.get(m.Customer, t.customer_id) if t.customer_id else None
    name = None
    if customer is not None:
        name = customer.name_zh if t.language == "zh" else customer.name_en
    return TicketView(
        t.id,
        t.conversation_id,
        t.customer_id,
        name,
        t.channel,
        t.language,
        t.reason,
        t.topic,
        t.emotion,
        t.urgent,
        t.base_priority,
        t.summary,
        t.status,
        t.agent,
        _aware(t.created_at),
        _aware(t.accepted_at),
        _aware(t.released_at),
    )


def _sent_between(s: Session, account_id: int, lo: datetime, hi: datetime) -> Decimal:
    """Completed transfers from an account in [lo, hi)."""
    total = s.execute(
        select(func.coalesce(func.sum(m.Transfer.amount), 0)).where(
            m.Transfer.from_account_id == account_id,
            m.Transfer.status == "completed",
            m.Transfer.created_at >= lo,
            m.Transfer.created_at < hi,
        )
    ).scalar_one()
    return quantize(Decimal(total))


def _transfers_held(s: Session, customer_id: str) -> bool:
    """Whether a risk alert of the customer holds their transfers."""
    found = s.execute(
        select(m.RiskAlert.id)
        .where(
            m.RiskAlert.customer_id == customer_id,
            m.RiskAlert.status.in_(HOLD_STATUSES),
        )
        .limit(1)
    ).first()
    return found is not None


def _transfer_context(
    s: Session,
    customer_id: str,
    payee: m.Payee,
    source: m.Account,
    amount: Decimal,
    now: datetime,
    history_days: int = 90,
) -> TransferContext:
    """What the transfer rules need, read inside the transfer's own transaction."""
    rows = s.execute(
        select(m.Transfer).where(
            m.Transfer.customer_id == customer_id,
            m.Transfer.status == "completed",
            m.Transfer.created_at >= now - timedelta(days=history_days),
        )
    ).scalars()
    return TransferContext(
        amount=amount,
        payee_id=payee.id,
        payee_created_at=_aware(payee.created_at),  # type: ignore[arg-type]
        source_balance=source.balance,
        history=[
            PastTransfer(t.amount, _aware(t.created_at), t.payee_id)  # type: ignore[arg-type]
            for t in rows
        ],
        now=_aware(now),  # type: ignore[arg-type]
    )


def _risk_view(r: m.RiskAlert) -> RiskAlertView:
    return RiskAlertView(
        r.id,
        r.conversation_id,
        r.customer_id,
        r.channel,
        r.language,
        r.source,
        r.rule_id,
        r.rule_version,
        r.ruleset,
        r.category,
        r.score,
        r.excerpt,
        r.amount,
        r.action_taken,
        r.status,
        r.reviewer,
        r.review_note,
        _aware(r.created_at),  # type: ignore[arg-type]
        _aware(r.reviewed_at),
    )


def _aware(value: datetime | None) -> datetime | None:
    """A timestamp for a view, in UTC.

    Read rows are aware UTC already (models.UtcDateTime); rows made in this session
    hold what was assigned, which must be aware too (a naive value raises).
    """
    return None if value is None else m.as_utc(value)


def _account_view(a: m.Account) -> AccountView:
    return AccountView(
        a.id,
        a.account_type,
        mask_number(a.number),
        a.currency,
        quantize(a.balance),
        quantize(a.daily_transfer_limit),
    )


def _card_view(c: m.Card) -> CardView:
    available = None
    if c.credit_limit is not None:
        available = quantize(c.credit_limit - (c.outstanding or Decimal("0")))
    return CardView(
        c.id,
        c.card_type,
        c.product_name,
        c.last4,
        c.status,
        quantize(c.credit_limit) if c.credit_limit is not None else None,
        available,
    )


def _account_id(s: Session, *conditions: Any) -> int | None:
    return s.execute(
        select(m.Account.id).where(*conditions).order_by(m.Account.id).limit(1)
    ).scalar_one_or_none()


def _lock_accounts(
    s: Session, customer_id: str, account_type: str | None, payee: m.Payee
) -> tuple[m.Account, m.Account]:
    """Lock the debit and the credit account of a transfer, lowest id first.

    Both rows are locked (SELECT ... FOR UPDATE on PostgreSQL) so that concurrent
    transfers can neither overdraw the source nor lose a credit, and always in id order
    so that two transfers in opposite directions cannot deadlock. External payees are
    credited through the bank's clearing account.
    """
    source_id = _account_id(
        s,
        m.Account.customer_id == customer_id,
        m.Account.status == "active",
        m.Account.account_type == (account_type or "current"),
    )
    credit_id = payee.account_id or _account_id(s, m.Account.account_type == "clearing")
    if source_id is None or credit_id is None:
        raise TransferRejected("no_account")
    locked = {
        a.id: a
        for a in s.execute(
            select(m.Account)
            .where(m.Account.id.in_({source_id, credit_id}))
            .order_by(m.Account.id)
            .with_for_update()
        ).scalars()
    }
    if source_id not in locked or credit_id not in locked:
        raise TransferRejected("no_account")
    return locked[source_id], locked[credit_id]


def _replayed(s: Session, t: m.Transfer) -> TransferResult:
    source = s.get(m.Account, t.from_account_id)
    payee = s.get(m.Payee, t.payee_id)
    return TransferResult(
        t.id,
        quantize(t.amount),
        payee.name if payee else "",
        mask_number(source.number) if source else "",
        quantize(source.balance) if source else Decimal("0"),
        replayed=True,
    )
