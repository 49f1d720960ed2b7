"""Customer data erasure (the right to be forgotten) and its receipt.

Personal data that the bank has no duty to keep is deleted or overwritten; the ledger
(accounts, transfers, transactions) and risk alerts are retained, because anti-money-
laundering rules oblige a bank to keep transaction records for about five years.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import column as sql_column
from sqlalchemy import delete, distinct, func, inspect, or_, select
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection, Engine, Inspector, make_url
from sqlalchemy.orm import Session

from actions.ownership import ConversationOwners, LoginRevocations
from actions.profile_db import models as m
from actions.profile_db.repository import OPEN_STATUSES, ProfileRepository, utc_now
from actions.profile_db.session import make_engine, session_scope

logger = logging.getLogger(__name__)

ERASED_NAME_ZH = "已删除客户"
ERASED_NAME_EN = "Erased customer"
ERASED_PAYEE_NAME = "已删除 erased"
ERASED_ACCOUNT_NUMBER = "ERASED"
ERASED_LAST4 = "****"
EMPTY_SUMMARY = "{}"
ERASED_TRANSFER_DESCRIPTION = "transfer to 已删除 erased"
ERASURE_EVENT = "finassist_customer_erased"
CLOSED_STATUS = "closed"  # an open handoff of an erased customer leaves the queue
TRACKER_EVENTS_TABLE = "events"  # Rasa's SQLTrackerStore: one row per event
CONVERSATION_COLUMNS = ("conversation_id", "external_id")
_CHUNK = 500  # bound parameters per IN (...) list

# Why rows stay (anonymised or untouched); the receipt repeats it per table.
LEDGER_REASON = (
    "ledger record: anti-money-laundering rules oblige the bank to keep account and "
    "transaction records for about 5 years after the relationship ends"
)
REASONS = {
    "customers": (
        "the row stays under its id so that the retained ledger still refers to a "
        "customer; names replaced by a placeholder, phone removed"
    ),
    "cards": (
        "referenced by retained transactions or still carrying a balance; the last "
        "four digits are removed"
    ),
    "payees": (
        "referenced by retained transfers; name, aliases and account number removed"
    ),
    "handoff_tickets": (
        "complaint-handling record (reason, times, agent) kept; summary and emotion "
        "removed, open tickets closed"
    ),
    "accounts": LEDGER_REASON,
    "transfers": LEDGER_REASON,
    "transactions": LEDGER_REASON,
    "risk_alerts": (
        "anti-money-laundering and fraud monitoring record (excerpt already masked), "
        "kept for the statutory period"
    ),
}
OTHERS_PAYEES_REASON = (
    "saved by other customers for this customer's accounts: part of their payment "
    "records, not this customer's"
)
UNKNOWN_TABLE_REASON = "no erasure rule for this table yet: review it"
TABLE_ORDER = (
    "channel_identities",
    "interactions",
    "emotion_records",
    "satisfaction_ratings",
    "experiment_assignments",
    "handoff_tickets",
    "payees",
    "cards",
    "customers",
    "accounts",
    "transfers",
    "transactions",
    "risk_alerts",
)


class EventStream(Protocol):
    """Where the event broker's consumers hear of an erasure."""

    where: str

    def publish(self, message: dict[str, Any]) -> None: ...


class UnknownCustomer(LookupError):
    """No customer with this id exists."""


class ErasureRefused(ValueError):
    """The id names something that must not be erased (the bank's clearing books)."""


@dataclass(frozen=True)
class TableOutcome:
    """What erasure did to one table's rows of the customer.

    `reason` says why rows were kept (anonymised or retained); None when none were.
    """

    deleted: int = 0
    anonymised: int = 0
    retained: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class ErasureReceipt:
    """The record of one erasure run, for the customer and the data-protection file."""

    customer_id: str
    erased_at: datetime
    conversations_deleted: int
    tracker_events_deleted: int
    tables: dict[str, TableOutcome] = field(default_factory=dict)
    # Every store the customer's data reached, and what happened there.
    stores: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether this run removed anything (False when repeated)."""
        return bool(
            self.conversations_deleted
            or self.tracker_events_deleted
            or any(t.deleted or t.anonymised for t in self.tables.values())
        )

    def as_dict(self) -> dict[str, Any]:
        """The receipt as JSON-ready data."""
        return {
            "customer_id": self.customer_id,
            "erased_at": self.erased_at.isoformat(),
            "changed": self.changed,
            "conversations_deleted": self.conversations_deleted,
            "tracker_events_deleted": self.tracker_events_deleted,
            "tables": {name: asdict(t) for name, t in self.tables.items()},
            "stores": dict(self.stores),
        }

    def as_json(self) -> str:
        """The receipt as indented JSON (Chinese kept readable)."""
        return json.dumps(self.as_dict(), ensure_ascii=False, indent=2)

    def as_text(self) -> str:
        """The receipt for people: one line per table, then why rows were kept."""
        lines = [
            f"Erasure receipt for customer {self.customer_id}",
            f"  time: {self.erased_at.isoformat()}",
            f"  conversations deleted: {self.conversations_deleted} "
            f"({self.tracker_events_deleted} tracker events)",
        ]
        if not self.changed:
            lines.append("  nothing left to erase: an earlier run already did it")
        lines.append("")
        lines.append(f"  {'table':<20}{'deleted':>9}{'anonymised':>12}{'retained':>10}")
        for name, t in self.tables.items():
            lines.append(
                f"  {name:<20}{t.deleted:>9}{t.anonymised:>12}{t.retained:>10}"
            )
        kept = [(n, t.reason) for n, t in self.tables.items() if t.reason]
        if kept:
            lines.append("")
            lines.append("  why rows were kept:")
            lines += [f"  - {name}: {reason}" for name, reason in kept]
        if self.stores:
            lines.append("")
            lines.append("  every store the data reached:")
            lines += [f"  - {name}: {what}" for name, what in self.stores.items()]
        return "\n".join(lines)


def erase_customer(
    customer_id: str,
    profile: Engine | ProfileRepository,
    tracker_db_url: str,
    *,
    clock: Callable[[], datetime] = utc_now,
    event_stream: EventStream | None = None,
) -> ErasureReceipt:
    """Delete or anonymise a customer's personal data; keep what the law requires.

    First every login token the customer holds is revoked, so that no message can
    bring personal data back while (or after) it runs. The profile database then
    changes in one transaction. The customer's conversations (the ones they own, see
    `actions.ownership`, plus those a profile table or a ``customer_id`` slot links to
    them, unless another customer owns them) are deleted from the tracker store with
    their ownership just before that transaction commits: if the tracker store fails,
    the profile is left untouched and the run can simply be repeated. Last, consumers
    of the event stream are told to delete what they hold (`event_stream`). Running it
    again finds nothing more to remove.

    Args:
        customer_id: the id of the customer to erase.
        profile: the profile repository, or an engine on the profile database.
        tracker_db_url: the Rasa tracker store's URL (``TRACKER_DB_URL``).
        clock: the time written on the receipt.
        event_stream: where the erasure notice for the event stream's consumers is
            published (None: no event broker is configured).

    Returns:
        The receipt: per table rows deleted, anonymised and retained (with why), and
        the conversations and tracker events deleted.

    Raises:
        UnknownCustomer: there is no customer with this id.
        ErasureRefused: the id holds the bank's own clearing account.
    """
    engine = profile.engine if isinstance(profile, ProfileRepository) else profile
    now = clock()
    _check_customer(engine, customer_id)
    revoked_at = revoke_logins(tracker_db_url, customer_id, now)
    with session_scope(engine) as s:
        customer = s.execute(
            select(m.Customer).where(m.Customer.id == customer_id).with_for_update()
        ).scalar_one_or_none()
        if customer is None:
            raise UnknownCustomer(customer_id)
        if _count(
            s,
            m.Account,
            m.Account.customer_id == customer_id,
            m.Account.account_type == "clearing",
        ):
            raise ErasureRefused("the bank's clearing books cannot be erased")
        inspector = inspect(s.connection())
        tables = set(inspector.get_table_names())
        conversations = _conversation_ids(s, inspector, tables, customer_id)
        outcomes = {
            "channel_identities": _delete_rows(
                s, m.ChannelIdentity, m.ChannelIdentity.customer_id == customer_id
            ),
            "interactions": _delete_rows(
                s, m.Interaction, m.Interaction.customer_id == customer_id
            ),
            "emotion_records": _delete_rows(
                s,
                m.EmotionRecord,
                _of_customer(m.EmotionRecord, customer_id, conversations),
            ),
            # Which A/B variant the customer saw: deleted with them.
            "experiment_assignments": _delete_rows(
                s,
                m.ExperimentAssignment,
                _of_customer(m.ExperimentAssignment, customer_id, conversations),
            ),
            # Ratings carry free-text comments: deleted (the report keeps no names).
            "satisfaction_ratings": _delete_rows(
                s,
                m.SatisfactionRating,
                _of_customer(m.SatisfactionRating, customer_id, conversations),
            ),
            "handoff_tickets": _anonymise_tickets(s, customer_id, conversations, now),
            "payees": _erase_payees(s, inspector, tables, customer_id),
            "cards": _erase_cards(s, inspector, tables, customer_id),
            "customers": _anonymise_customer(customer),
            "accounts": _retained(s, m.Account.__table__, customer_id),
            "transfers": _retained(s, m.Transfer.__table__, customer_id),
            "transactions": _anonymise_descriptions(s, customer_id),
        }
        for name in sorted(tables - set(outcomes)):
            columns = {c["name"] for c in inspector.get_columns(name)}
            if "customer_id" not in columns:
                continue
            target = sql_table(name, sql_column("customer_id"))
            outcome = _retained(s, target, customer_id, REASONS.get(name))
            if name in REASONS or outcome.retained:
                outcomes[name] = outcome
        s.flush()
        # Last step before the commit: a tracker-store failure rolls the profile back.
        conversations_deleted, events_deleted, erased_ids = delete_conversations(
            tracker_db_url, customer_id, conversations
        )
    stores = {
        "profile database": "deleted, anonymised and retained per table (above)",
        "conversation store": (
            f"{conversations_deleted} conversations and {events_deleted} events "
            "deleted, with their ownership"
        ),
        "login tokens": f"every token issued until {revoked_at.isoformat()} revoked",
        "event stream": _notify_stream(event_stream, customer_id, erased_ids, now),
        "logs": (
            "card, ID, phone, e-mail and account numbers were never written; other "
            "words of the conversations leave with log rotation"
        ),
    }
    receipt = ErasureReceipt(
        customer_id,
        now,
        conversations_deleted,
        events_deleted,
        dict(sorted(outcomes.items(), key=lambda kv: _table_rank(kv[0]))),
        stores,
    )
    # Ids and counts only: never names, numbers or conversation ids (may be tokens).
    logger.info(
        "erasure of customer %s: %d conversations, %d tracker events, changed=%s",
        customer_id,
        conversations_deleted,
        events_deleted,
        receipt.changed,
    )
    return receipt


def delete_conversations(
    tracker_db_url: str, customer_id: str, conversation_ids: Collection[str]
) -> tuple[int, int, list[str]]:
    """Delete conversations of a customer from the Rasa SQL tracker store.

    Args:
        tracker_db_url: the tracker store's URL (SQLite or PostgreSQL).
        customer_id: the customer's own conversations (`actions.ownership`) and
            those whose ``customer_id`` slot was set to this id are deleted too.
        conversation_ids: conversation (sender) ids the profile links to them. One
            that another customer owns is never deleted: it is theirs.

    Returns:
        How many conversations had events, how many events were deleted, and the
        ids of the conversations deleted.
    """
    url = make_url(tracker_db_url)
    if url.get_backend_name() == "sqlite" and not (
        url.database and Path(url.database).is_file()
    ):
        return 0, 0, []  # no tracker file yet: nothing stored, and none is created
    engine = make_engine(tracker_db_url)
    try:
        owners = ConversationOwners(engine)
        owned = set(owners.conversations_of(customer_id))
        with engine.begin() as conn:
            has_events = inspect(conn).has_table(TRACKER_EVENTS_TABLE)
            events = sql_table(
                TRACKER_EVENTS_TABLE,
                sql_column("sender_id"),
                sql_column("type_name"),
                sql_column("data"),
            )
            linked = set(conversation_ids)
            if has_events:
                linked |= _slot_conversations(conn, events, customer_id)
        others = {
            cid: owner
            for cid, owner in owners.owners_of(sorted(linked - owned)).items()
            if owner != customer_id
        }
        senders = sorted(owned | (linked - set(others)))
        conversations = deleted = 0
        erased: list[str] = []
        with engine.begin() as conn:
            if has_events:
                for chunk in _chunks(senders):
                    present = list(
                        conn.execute(
                            select(distinct(events.c.sender_id)).where(
                                events.c.sender_id.in_(chunk)
                            )
                        ).scalars()
                    )
                    conversations += len(present)
                    erased += present
                    deleted += conn.execute(
                        delete(events).where(events.c.sender_id.in_(chunk))
                    ).rowcount
        owners.forget_customer(customer_id)
        return conversations, deleted, sorted(erased)
    finally:
        engine.dispose()


def revoke_logins(tracker_db_url: str, customer_id: str, now: datetime) -> datetime:
    """Void every login token of the customer issued until `now` (in all replicas)."""
    engine = make_engine(tracker_db_url)
    try:
        LoginRevocations(engine).revoke(customer_id, int(now.timestamp()))
    finally:
        engine.dispose()
    return now


def _check_customer(engine: Engine, customer_id: str) -> None:
    with session_scope(engine) as s:
        customer = s.get(m.Customer, customer_id)
        if customer is None:
            raise UnknownCustomer(customer_id)
        if _count(
            s,
            m.Account,
            m.Account.customer_id == customer_id,
            m.Account.account_type == "clearing",
        ):
            raise ErasureRefused("the bank's clearing books cannot be erased")


def _notify_stream(
    stream: EventStream | None,
    customer_id: str,
    conversations: list[str],
    now: datetime,
) -> str:
    if stream is None:
        return "no event broker configured: nothing was streamed"
    try:
        stream.publish(
            {
                "event": ERASURE_EVENT,
                "customer_id": customer_id,
                "conversations": conversations,
                "timestamp": now.timestamp(),
            }
        )
    except Exception as exc:  # the erasure itself is done; say what is left to do
        logger.error("erasure notice not published: %s", type(exc).__name__)
        return (
            f"erasure notice NOT published ({type(exc).__name__}): run the erasure "
            "again once the broker answers"
        )
    return (
        f"events were streamed masked; erasure notice published to {stream.where} "
        "for every consumer to delete the customer's conversations"
    )


def _anonymise_descriptions(s: Session, customer_id: str) -> TableOutcome:
    """Retained ledger lines keep amounts and dates, not the payees' names."""
    own = (
        select(m.Transfer.id)
        .where(m.Transfer.customer_id == customer_id)
        .scalar_subquery()
    )
    lines = s.execute(
        select(m.Transaction).where(
            m.Transaction.customer_id == customer_id,
            m.Transaction.transfer_id.in_(own),
            m.Transaction.description != ERASED_TRANSFER_DESCRIPTION,
        )
    ).scalars()
    anonymised = 0
    for line in lines:
        line.description = ERASED_TRANSFER_DESCRIPTION
        anonymised += 1
    total = _count(s, m.Transaction, m.Transaction.customer_id == customer_id)
    if not total:
        return TableOutcome()
    return TableOutcome(
        anonymised=anonymised,
        retained=total - anonymised,
        reason=LEDGER_REASON + "; transfer descriptions no longer name the payee",
    )


def _slot_conversations(conn: Connection, events: Any, customer_id: str) -> set[str]:
    """Conversations whose stored events set the ``customer_id`` slot to this id."""
    rows = conn.execute(
        select(events.c.sender_id, events.c.data).where(
            events.c.type_name == "slot",
            events.c.data.like('%"customer_id"%'),
            events.c.data.like(f"%{customer_id}%"),
        )
    )
    found = set()
    for sender_id, data in rows:
        try:
            event = json.loads(data)
        except (TypeError, ValueError):
            continue
        if event.get("name") == "customer_id" and event.get("value") == customer_id:
            found.add(sender_id)
    return found


def _conversation_ids(
    s: Session, inspector: Inspector, tables: set[str], customer_id: str
) -> set[str]:
    """Every conversation id that any profile table links to the customer.

    Found by inspection, so a table added later (risk alerts, ...) is covered as soon
    as it has a ``customer_id`` and a ``conversation_id`` or ``external_id`` column.
    """
    found: set[str] = set()
    for name in sorted(tables):
        columns = {c["name"] for c in inspector.get_columns(name)}
        if "customer_id" not in columns:
            continue
        for key in CONVERSATION_COLUMNS:
            if key not in columns:
                continue
            target = sql_table(name, sql_column("customer_id"), sql_column(key))
            found.update(
                s.execute(
                    select(distinct(target.c[key])).where(
                        target.c.customer_id == customer_id,
                        target.c[key].is_not(None),
                    )
                ).scalars()
            )
    return found


def _of_customer(model: Any, customer_id: str, conversations: set[str]) -> Any:
    """Rows of the customer, and rows of their conversations before they logged in."""
    anonymous_in_conversation = [
        (model.customer_id.is_(None)) & model.conversation_id.in_(chunk)
        for chunk in _chunks(sorted(conversations))
    ]
    return or_(model.customer_id == customer_id, *anonymous_in_conversation)


def _delete_rows(s: Session, model: Any, where: Any) -> TableOutcome:
    result = s.execute(
        delete(model).where(where).execution_options(synchronize_session=False)
    )
    return TableOutcome(deleted=result.rowcount)


def _anonymise_tickets(
    s: Session, customer_id: str, conversations: set[str], now: datetime
) -> TableOutcome:
    anonymised = retained = 0
    tickets = s.execute(
        select(m.HandoffTicket).where(
            _of_customer(m.HandoffTicket, customer_id, conversations)
        )
    ).scalars()
    for ticket in tickets:
        is_open = ticket.status in OPEN_STATUSES
        if ticket.summary == EMPTY_SUMMARY and ticket.emotion is None and not is_open:
            retained += 1
            continue
        ticket.summary, ticket.emotion = EMPTY_SUMMARY, None
        if is_open:
            ticket.status, ticket.released_at = CLOSED_STATUS, now
        anonymised += 1
    return _kept("handoff_tickets", anonymised=anonymised, retained=retained)


def _erase_payees(
    s: Session, inspector: Inspector, tables: set[str], customer_id: str
) -> TableOutcome:
    own = list(
        s.execute(select(m.Payee).where(m.Payee.customer_id == customer_id)).scalars()
    )
    referenced = _referenced_ids(s, inspector, tables, "payees", [p.id for p in own])
    deleted = anonymised = retained = 0
    for payee in own:
        if payee.id not in referenced:
            s.delete(payee)
            deleted += 1
        elif payee.name == ERASED_PAYEE_NAME and not payee.aliases:
            retained += 1
        else:
            payee.name, payee.aliases = ERASED_PAYEE_NAME, ""
            payee.account_number = ERASED_ACCOUNT_NUMBER
            anonymised += 1
    kept = _kept("payees", deleted, anonymised, retained)
    # Other customers' saved payees that credit this customer's accounts.
    others = _count(
        s,
        m.Payee,
        m.Payee.customer_id != customer_id,
        m.Payee.account_id.in_(
            select(m.Account.id).where(m.Account.customer_id == customer_id)
        ),
    )
    if not others:
        return kept
    reason = "; ".join(filter(None, [kept.reason, f"{others} {OTHERS_PAYEES_REASON}"]))
    return TableOutcome(deleted, anonymised, retained + others, reason)


def _erase_cards(
    s: Session, inspector: Inspector, tables: set[str], customer_id: str
) -> TableOutcome:
    cards = list(
        s.execute(select(m.Card).where(m.Card.customer_id == customer_id)).scalars()
    )
    referenced = _referenced_ids(s, inspector, tables, "cards", [c.id for c in cards])
    deleted = anonymised = retained = 0
    for card in cards:
        owes = card.outstanding is not None and card.outstanding != 0  # Decimal
        if card.id not in referenced and not owes:
            s.delete(card)
            deleted += 1
        elif card.last4 == ERASED_LAST4:
            retained += 1
        else:
            card.last4 = ERASED_LAST4
            anonymised += 1
    return _kept("cards", deleted, anonymised, retained)


def _anonymise_customer(customer: m.Customer) -> TableOutcome:
    if (customer.name_zh, customer.name_en, customer.phone) == (
        ERASED_NAME_ZH,
        ERASED_NAME_EN,
        None,
    ):
        return _kept("customers", retained=1)
    customer.name_zh, customer.name_en = ERASED_NAME_ZH, ERASED_NAME_EN
    customer.phone = None
    return _kept("customers", anonymised=1)


def _retained(
    s: Session, target: Any, customer_id: str, reason: str | None = None
) -> TableOutcome:
    count = s.execute(
        select(func.count())
        .select_from(target)
        .where(target.c.customer_id == customer_id)
    ).scalar_one()
    if not count:
        return TableOutcome()
    name = getattr(target, "name", "")
    return TableOutcome(
        retained=count, reason=reason or REASONS.get(name) or UNKNOWN_TABLE_REASON
    )


def _kept(
    name: str, deleted: int = 0, anonymised: int = 0, retained: int = 0
) -> TableOutcome:
    reason = REASONS[name] if anonymised or retained else None
    return TableOutcome(deleted, anonymised, retained, reason)


def _referenced_ids(
    s: Session, inspector: Inspector, tables: set[str], target: str, ids: list[int]
) -> set[int]:
    """Which of these ids a foreign key anywhere in the database points at."""
    found: set[int] = set()
    if not ids:
        return found
    for name in sorted(tables):
        for fk in inspector.get_foreign_keys(name):
            if fk.get("referred_table") != target or fk.get("referred_columns") != [
                "id"
            ]:
                continue
            key = fk["constrained_columns"][0]
            source = sql_table(name, sql_column(key))
            for chunk in _chunks(ids):
                found.update(
                    s.execute(
                        select(distinct(source.c[key])).where(source.c[key].in_(chunk))
                    ).scalars()
                )
    return found


def _count(s: Session, model: Any, *where: Any) -> int:
    return int(
        s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _table_rank(name: str) -> tuple[int, str]:
    return (
        TABLE_ORDER.index(name) if name in TABLE_ORDER else len(TABLE_ORDER),
        name,
    )
