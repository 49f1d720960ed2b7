"""Direct reads and writes of a profile database, for tests that check the repository."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine

from actions.profile_db import models as m
from actions.profile_db.session import session_scope


def account_id(engine: Engine, customer_id: str, account_type: str) -> int:
    with session_scope(engine) as s:
        return s.execute(
            select(m.Account.id).where(
                m.Account.customer_id == customer_id,
                m.Account.account_type == account_type,
            )
        ).scalar_one()


def balance(engine: Engine, customer_id: str, account_type: str) -> Decimal:
    with session_scope(engine) as s:
        return s.execute(
            select(m.Account.balance).where(
                m.Account.customer_id == customer_id,
                m.Account.account_type == account_type,
            )
        ).scalar_one()


def all_balances(engine: Engine) -> dict[tuple[str, str], Decimal]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(m.Account.customer_id, m.Account.account_type, m.Account.balance)
        ).all()
    return {(c, t): b for c, t, b in rows}


def set_balance(
    engine: Engine, customer_id: str, account_type: str, value: Decimal
) -> None:
    with session_scope(engine) as s:
        s.execute(
            update(m.Account)
            .where(
                m.Account.customer_id == customer_id,
                m.Account.account_type == account_type,
            )
            .values(balance=value)
        )


def payee_id(engine: Engine, customer_id: str, name: str) -> int:
    with session_scope(engine) as s:
        return s.execute(
            select(m.Payee.id).where(
                m.Payee.customer_id == customer_id, m.Payee.name == name
            )
        ).scalar_one()


def count_rows(engine: Engine, model: type) -> int:
    with session_scope(engine) as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()
