"""SQLAlchemy models of the customer-profile database (schema owned by Alembic)."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

Base = declarative_base()


class ExactNumeric(TypeDecorator):  # type: ignore[type-arg]
    """A fixed-point number that is `Decimal` in Python and exact in every database.

    PostgreSQL stores NUMERIC(precision, scale). SQLite has no exact decimal type (it
    would go through float), so there the column holds an integer scaled by 10**scale
    (cents for money); sums over it stay exact too.
    """

    impl = Numeric
    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        super().__init__(precision, scale)
        self._precision, self._scale = precision, scale
        self._factor = Decimal(10) ** scale
        self._quantum = Decimal(1).scaleb(-scale)

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        """Scaled integers on SQLite, NUMERIC elsewhere."""
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self._precision, self._scale))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        """Decimal (or int/str) in; a scaled integer out for SQLite."""
        if value is None:
            return None
        number = Decimal(str(value)).quantize(self._quantum)
        return int(number * self._factor) if dialect.name == "sqlite" else number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Always a Decimal with `scale` places."""
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(self._quantum)
        return Decimal(value).quantize(self._quantum)


MONEY = ExactNumeric(14, 2)  # customers' money
RATE = ExactNumeric(6, 4)  # annual interest rates in percent


class NaiveDatetimeError(ValueError):
    """A datetime without a time zone reached the database: always a bug.

    Its instant is a guess (UTC? the bank's zone? the server's?), and a wrong guess
    moves a transfer into another day's limit.
    """

    def __init__(self, value: datetime) -> None:
        super().__init__(
            f"naive datetime {value} (no tzinfo): pass an aware datetime such as "
            "datetime.now(timezone.utc)"
        )


def as_utc(value: object) -> datetime:
    """The same instant in UTC.

    Raises:
        NaiveDatetimeError: `value` has no time zone.
        TypeError: `value` is not a datetime (a date or a string is not an instant).
    """
    if not isinstance(value, datetime):
        raise TypeError(f"an aware datetime is needed, not {type(value).__name__}")
    if value.utcoffset() is None:
        raise NaiveDatetimeError(value)
    return value.astimezone(timezone.utc)


class UtcDateTime(TypeDecorator):  # type: ignore[type-arg]
    """An instant: aware UTC `datetime` in Python, the same instant in every database.

    PostgreSQL stores TIMESTAMP WITH TIME ZONE. SQLite has no time-zone type: it keeps
    the wall-clock text it is given and compares text, so every value, stored or
    compared, is converted to naive UTC first (the text older rows already hold).
    Naive values are refused, in comparisons as well as in writes.
    """

    impl = DateTime
    cache_ok = True

    def __init__(self) -> None:
        super().__init__(timezone=True)

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Aware in; naive UTC out for SQLite, aware UTC for PostgreSQL."""
        if value is None:
            return None
        utc = as_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Always aware UTC (SQLite's naive text was written in UTC)."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Customer(Base):
    """A bank customer; `risk_level` is the assessed investment risk tolerance R1-R5."""

    __tablename__ = "customers"
    id = Column(String(16), primary_key=True)
    name_zh = Column(String(64), nullable=False)
    name_en = Column(String(64), nullable=False)
    preferred_language = Column(String(2), nullable=False, default="zh")
    risk_level = Column(Integer, nullable=False, default=2)
    tier = Column(String(16), nullable=False, default="standard")
    phone = Column(String(32), nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)

    accounts = relationship("Account", back_populates="customer")
    cards = relationship("Card", back_populates="customer")


class Account(Base):
    """A deposit account: ``current`` (活期) or ``savings`` (储蓄)."""

    __tablename__ = "accounts"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    account_type = Column(String(16), nullable=False)
    number = Column(String(32), nullable=False, unique=True)
    currency = Column(String(3), nullable=False, default="CNY")
    balance = Column(MONEY, nullable=False)
    daily_transfer_limit = Column(MONEY, nullable=False)
    status = Column(String(16), nullable=False, default="active")
    opened_at = Column(UtcDateTime(), nullable=False)

    customer = relationship("Customer", back_populates="accounts")


class Card(Base):
    """A debit or credit card. Only the last four digits are stored here."""

    __tablename__ = "cards"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    account_id = Column(Integer, ForeignKey("accounts.id"), nullable=True)
    card_type = Column(String(16), nullable=False)
    product_name = Column(String(64), nullable=False)
    last4 = Column(String(4), nullable=False)
    status = Column(String(16), nullable=False, default="active")
    credit_limit = Column(MONEY, nullable=True)
    outstanding = Column(MONEY, nullable=True)
    frozen_at = Column(UtcDateTime(), nullable=True)
    freeze_reason = Column(String(32), nullable=True)

    customer = relationship("Customer", back_populates="cards")


class Payee(Base):
    """A saved recipient. `aliases` is a `|`-separated list (妈妈|老妈|我妈|mom)."""

    __tablename__ = "payees"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    name = Column(String(64), nullable=False)
    aliases = Column(String(255), nullable=False, default="")
    bank_name = Column(String(64), nullable=False)
    account_number = Column(String(32), nullable=False)
    account_id = Column(Integer, ForeignKey("accounts.id"), nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)


class Merchant(Base):
    """Merchant master data with display names in both languages."""

    __tablename__ = "merchants"
    key = Column(String(32), primary_key=True)
    name_zh = Column(String(64), nullable=False)
    name_en = Column(String(64), nullable=False)
    category = Column(String(32), ForeignKey("categories.key"), nullable=False)


class Category(Base):
    """Spending or income category with display names in both languages."""

    __tablename__ = "categories"
    key = Column(String(32), primary_key=True)
    name_zh = Column(String(32), nullable=False)
    name_en = Column(String(32), nullable=False)


class Transfer(Base):
    """A customer transfer; `idempotency_key` makes a retried request a no-op."""

    __tablename__ = "transfers"
    id = Column(Integer, primary_key=True)
    idempotency_key = Column(String(128), nullable=False, unique=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    from_account_id = Column(Integer, ForeignKey("accounts.id"), nullable=False)
    payee_id = Column(Integer, ForeignKey("payees.id"), nullable=False)
    amount = Column(MONEY, nullable=False)
    currency = Column(String(3), nullable=False, default="CNY")
    status = Column(String(16), nullable=False)
    conversation_id = Column(String(255), nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)


class Transaction(Base):
    """A posted account movement: negative amounts leave the account."""

    __tablename__ = "transactions"
    id = Column(Integer, primary_key=True)
    customer_id = Column(String(16), ForeignKey("customers.id"), nullable=False)
    account_id = Column(Integer, ForeignKey("accounts.id"), nullable=False)
    card_id = Column(Integer, ForeignKey("cards.id"), nullable=True)
    posted_at = Column(UtcDateTime(), nullable=False)
    amount = Column(MONEY, nullable=False)
    currency = Column(String(3), nullable=False, default="CNY")
    merchant_key = Column(String(32), ForeignKey("merchants.key"), nullable=True)
    category = Column(String(32), ForeignKey("categories.key"), nullable=False)
    description = Column(String(128), nullable=False, default="")
    transfer_id = Column(Integer, ForeignKey("transfers.id"), nullable=True)

    __table_args__ = (
        Index("ix_transactions_customer_posted", "customer_id", "posted_at"),
    )


class ChannelIdentity(Base):
    """Which channel identities (app, web, shell conversation) belong to a customer."""

    __tablename__ = "channel_identities"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    channel = Column(String(32), nullable=False)
    external_id = Column(String(255), nullable=False)
    first_seen_at = Column(UtcDateTime(), nullable=False)
    last_seen_at = Column(UtcDateTime(), nullable=False)

    __table_args__ = (UniqueConstraint("channel", "external_id"),)


class Interaction(Base):
    """One customer conversation on one channel: topic, outcome and pending task."""

    __tablename__ = "interactions"
    id = Column(Integer, primary_key=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=False, index=True
    )
    conversation_id = Column(String(255), nullable=False, index=True)
    channel = Column(String(32), nullable=False)
    topic = Column(String(32), nullable=True)
    outcome = Column(String(32), nullable=True)
    pending_task = Column(String(64), nullable=True)
    # JSON of the facts worth carrying to another channel (home status, loan term, ...)
    context = Column(Text, nullable=True)
    language = Column(String(2), nullable=True)
    started_at = Column(UtcDateTime(), nullable=False)
    updated_at = Column(UtcDateTime(), nullable=False)


class MortgageRate(Base):
    """One row of a versioned mortgage rate table (annual rate in percent)."""

    __tablename__ = "mortgage_rates"
    id = Column(Integer, primary_key=True)
    version = Column(String(16), nullable=False)
    effective_from = Column(Date, nullable=False)
    home_status = Column(String(16), nullable=False)
    min_term_years = Column(Integer, nullable=False)
    max_term_years = Column(Integer, nullable=False)
    annual_rate = Column(RATE, nullable=False)

    __table_args__ = (UniqueConstraint("version", "home_status", "min_term_years"),)


class WealthProduct(Base):
    """A wealth-management product with its risk level (R1-R5) and terms."""

    __tablename__ = "wealth_products"
    code = Column(String(16), primary_key=True)
    name_zh = Column(String(64), nullable=False)
    name_en = Column(String(64), nullable=False)
    risk_level = Column(Integer, nullable=False)
    term_days = Column(Integer, nullable=False)  # 0 = redeemable any working day
    min_amount = Column(MONEY, nullable=False)
    benchmark = Column(
        String(32), nullable=False
    )  # "performance benchmark", not a promise
    is_active = Column(Boolean, nullable=False, default=True)
    description = Column(Text, nullable=False, default="")


class EmotionRecord(Base):
    """The emotion of one customer message (no text: the transcript lives elsewhere)."""

    __tablename__ = "emotion_records"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=True, index=True
    )
    emotion = Column(String(16), nullable=False)
    score = Column(Float, nullable=False)
    urgent = Column(Boolean, nullable=False, default=False)
    intent = Column(String(64), nullable=True)
    topic = Column(String(32), nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)


class HandoffTicket(Base):
    """A conversation waiting for, or being served by, a human agent."""

    __tablename__ = "handoff_tickets"
    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=True, index=True
    )
    channel = Column(String(32), nullable=False)
    language = Column(String(2), nullable=False, default="zh")
    reason = Column(String(32), nullable=False)
    topic = Column(String(32), nullable=True)
    emotion = Column(String(16), nullable=True)
    urgent = Column(Boolean, nullable=False, default=False)
    base_priority = Column(Integer, nullable=False)
    summary = Column(Text, nullable=False, default="{}")  # JSON, personal data masked
    status = Column(String(16), nullable=False, default="waiting", index=True)
    agent = Column(String(64), nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)
    accepted_at = Column(UtcDateTime(), nullable=True)
    released_at = Column(UtcDateTime(), nullable=True)


class RiskAlert(Base):
    """A risk rule that fired on a message or a transfer; reviewed by compliance."""

    __tablename__ = "risk_alerts"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=True, index=True
    )
    channel = Column(String(32), nullable=False)
    language = Column(String(2), nullable=False, default="zh")
    source = Column(String(16), nullable=False)  # message | transfer
    rule_id = Column(String(48), nullable=False)
    rule_version = Column(Integer, nullable=False)
    ruleset = Column(String(32), nullable=False)
    category = Column(String(32), nullable=False)
    score = Column(Float, nullable=False)
    excerpt = Column(Text, nullable=False, default="")  # personal data masked
    amount = Column(MONEY, nullable=True)  # the transfer stopped, if any
    action_taken = Column(String(32), nullable=False)  # what was restricted
    status = Column(String(16), nullable=False, default="open", index=True)
    reviewer = Column(String(64), nullable=True)
    review_note = Column(Text, nullable=True)
    created_at = Column(UtcDateTime(), nullable=False)
    reviewed_at = Column(UtcDateTime(), nullable=True)


class SatisfactionRating(Base):
    """A customer's 1-5 rating at the end of a conversation, from any channel."""

    __tablename__ = "satisfaction_ratings"

    id = Column(Integer, primary_key=True)
    conversation_id = Column(String(255), nullable=False, index=True)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=True, index=True
    )
    channel = Column(String(32), nullable=False)
    score = Column(Integer, nullable=False)
    comment = Column(Text, nullable=True)  # personal data masked
    created_at = Column(UtcDateTime(), nullable=False)


class ExperimentAssignment(Base):
    """The A/B variant a conversation got (actions/experiments.py); one per experiment.

    `customer_id` is None for an anonymous conversation (assigned by conversation id).
    """

    __tablename__ = "experiment_assignments"

    id = Column(Integer, primary_key=True)
    experiment = Column(String(64), nullable=False)
    variant = Column(String(64), nullable=False)
    customer_id = Column(
        String(16), ForeignKey("customers.id"), nullable=True, index=True
    )
    conversation_id = Column(String(255), nullable=False, index=True)
    assigned_at = Column(UtcDateTime(), nullable=False)

    __table_args__ = (
        UniqueConstraint(
            "experiment", "conversation_id", name="uq_experiment_conversation"
        ),
        Index(
            "ix_experiment_assignments_experiment_customer",
            "experiment",
            "customer_id",
        ),
    )
