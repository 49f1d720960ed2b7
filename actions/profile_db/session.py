"""Engines and one-session-per-unit-of-work scopes for the profile database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """Create an engine for SQLite (default) or PostgreSQL from one URL.

    Args:
        url: a SQLAlchemy URL such as ``sqlite:///finassist.db`` or
            ``postgresql+psycopg2://user@host/db``.

    Returns:
        A 2.0-style engine.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url, future=True, connect_args={"check_same_thread": False, "timeout": 15}
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite would BEGIN only at the first write, after the balance was read:
            # two concurrent transfers could then both spend the same money. Take the
            # write lock when the unit of work starts (PostgreSQL uses FOR UPDATE).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(
        url, future=True, pool_pre_ping=True, pool_size=5, max_overflow=5
    )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One session per unit of work: commit on success, roll back on any error."""
    factory = sessionmaker(bind=engine, future=True, expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
