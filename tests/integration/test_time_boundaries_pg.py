"""The time-boundary matrix of tests/unit/test_time_boundaries.py on PostgreSQL.

One fresh database for the module (migrated, seeded once; each scenario cleans up its
own rows), dropped at the end. The sessions run in a third time zone, neither UTC nor
the bank's, so that nothing depends on the server's TimeZone setting. Skipped with a
reason when the server in FINASSIST_TEST_PG_URL cannot be reached.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError, StatementError

from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine, session_scope
from scripts.seed_profiles import migrate, seed
from tests.db import drop_database
from tests.unit.test_time_boundaries import (
    DAY_IDS,
    DAYS,
    NAIVE,
    ZONES,
    add_test_customer,
    limit_problems,
    new_payee_and_history_problems,
    round_trip_problems,
    search_problems,
    transferred_today_problems,
)

pytestmark = pytest.mark.integration

PG_URL = os.environ.get(
    "FINASSIST_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
SESSION_ZONE = "America/Los_Angeles"  # the server's zone is nobody's business


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    """An engine on a fresh, migrated, seeded database; dropped afterwards."""
    admin = create_engine(
        PG_URL,
        future=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 5},
    )
    shown = make_url(PG_URL).render_as_string(hide_password=True)
    name = f"finassist_tb_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except SQLAlchemyError as exc:
        admin.dispose()
        first_line = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        pytest.skip(
            f"PostgreSQL not usable at {shown} (set FINASSIST_TEST_PG_URL): "
            f"{first_line}"
        )
    url = make_url(PG_URL).set(database=name)
    engine = None
    try:
        migrate(url.render_as_string(hide_password=False))
        # a throw-away database: commits need not wait for the disk
        options = f"-c timezone={SESSION_ZONE} -c synchronous_commit=off"
        engine = make_engine(
            url.update_query_dict({"options": options}).render_as_string(
                hide_password=False
            )
        )
        seed(engine, date.today())
        add_test_customer(engine)
        yield engine
    finally:
        if engine is not None:
            engine.dispose()
        drop_database(admin, name)
        admin.dispose()


def test_the_sessions_run_in_another_time_zone(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == SESSION_ZONE
        kind = conn.execute(
            text(
                "SELECT data_type FROM information_schema.columns "
                "WHERE table_name = 'transfers' AND column_name = 'created_at'"
            )
        ).scalar()
    assert kind == "timestamp with time zone"


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_daily_limit_is_the_local_day_at_every_hour(
    pg_engine: Engine, zone: str, day: date
) -> None:
    assert limit_problems(pg_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_period_searches_cut_at_local_midnight_at_every_hour(
    pg_engine: Engine, zone: str, day: date
) -> None:
    assert search_problems(pg_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize(("zone", "day"), DAYS, ids=DAY_IDS)
def test_transferred_today_uses_the_repository_clock_and_zone(
    pg_engine: Engine, zone: str, day: date
) -> None:
    assert transferred_today_problems(pg_engine, ZoneInfo(zone), day) == []


@pytest.mark.parametrize("zone", ZONES)
def test_every_timestamp_reads_back_as_the_same_utc_instant(
    pg_engine: Engine, zone: str
) -> None:
    assert round_trip_problems(pg_engine, ZoneInfo(zone)) == []


@pytest.mark.parametrize("zone", ZONES)
def test_risk_history_window_and_payee_age_are_exact(
    pg_engine: Engine, zone: str
) -> None:
    assert new_payee_and_history_problems(pg_engine, ZoneInfo(zone)) == []


def test_a_naive_datetime_is_refused_not_read_in_the_session_zone(
    pg_engine: Engine,
) -> None:
    """PostgreSQL would take a naive value as local time of the session: refused."""
    with pytest.raises(StatementError) as info, session_scope(pg_engine) as s:
        s.execute(select(m.Transfer.id).where(m.Transfer.created_at >= NAIVE))
    assert isinstance(info.value.orig, m.NaiveDatetimeError)
    repo = ProfileRepository(pg_engine, clock=lambda: NAIVE)
    with pytest.raises(m.NaiveDatetimeError):
        repo.local_today()
    aware = ProfileRepository(
        pg_engine, clock=lambda: datetime(2026, 3, 1, tzinfo=timezone.utc)
    )
    assert aware.local_today() == date(2026, 3, 1)
