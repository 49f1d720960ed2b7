"""Engines and one-session-per-unit-of-work scopes for the profile database."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

# SQLite takes its write lock at BEGIN IMMEDIATE and makes a second writer sleep and
# retry (1, 2, 5 ... 100 ms steps), which under concurrent turns cost more than the
# work. Units of work of one process take turns on this lock instead and start the
# moment the previous one ends; other processes still wait in SQLite's busy timeout.
_SQLITE_TURNS: weakref.WeakKeyDictionary[Engine, threading.RLock] = (
    weakref.WeakKeyDictionary()
)


def make_engine(url: str) -> Engine:
    """Create an engine for SQLite (default) or PostgreSQL from one URL.

    Args:
        url: a SQLAlchemy URL such as ``sqlite:///finassist.db`` or
            ``postgresql+psycopg2://user@host/db``.

    Returns:
        A 2.0-style engine.
    """
    if url.startswith("sqlite"):
        # Keep a file's connections open (SQLAlchemy 1.4 would open one per unit of
        # work); an in-memory database keeps its single connection.
        in_memory = ":memory:" in url or url.rstrip("/") == "sqlite:"
        pool = {} if in_memory else {"poolclass": QueuePool, "pool_size": 5}
        engine = create_engine(
            url,
            future=True,
            connect_args={"check_same_thread": False, "timeout": 15},
            **pool,
        )
        _SQLITE_TURNS[engine] = threading.RLock()

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            # pysqlite would BEGIN only at the first write, after the balance was read:
            # two concurrent transfers could then both spend the same money. Take the
            # write lock when the unit of work starts (PostgreSQL uses FOR UPDATE).
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            # Write-ahead log: readers never wait for the writer, and a commit appends
            # to the log instead of rewriting the database file (no fsync per commit
            # under synchronous=NORMAL; a crash of the process loses nothing).
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
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
    turn = _SQLITE_TURNS.get(engine)
    with turn if turn is not None else nullcontext():
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
