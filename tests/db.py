"""Direct reads and writes of a profile database, for tests that check the repository."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, text, update
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


def drop_database(admin: Engine, name: str) -> None:
    """Drop a PostgreSQL database made for a test or a benchmark, connections first.

    `admin` is an AUTOCOMMIT engine on another database of the same server.
    """
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


async def _delete_queue(name: str, url: str) -> None:
    import aio_pika  # what Rasa's PikaEventBroker itself uses

    connection = await aio_pika.connect_robust(url)
    try:
        channel = await connection.channel()
        await channel.queue_delete(name)
    finally:
        await connection.close()


def delete_rabbitmq_queue(
    name: str, url: str = "amqp://guest:guest@127.0.0.1:5672/"
) -> None:
    """Delete a RabbitMQ queue a test or a benchmark made.

    Rasa's pika broker binds its queue to one fanout exchange (`rasa-exchange`): a
    queue left behind would receive every later run's events, for ever.
    """
    import asyncio

    asyncio.run(_delete_queue(name, url))
