"""Lazily built, cached services shared by the actions (tests swap them)."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo

from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from actions.settings import get_settings


@lru_cache(maxsize=1)
def profile_repository() -> ProfileRepository:
    """The profile repository over DATABASE_URL, built on first use."""
    return ProfileRepository(
        make_engine(get_settings().database_url), zone=local_zone()
    )


def local_zone() -> ZoneInfo:
    """The bank's time zone, for "today" and "this month"."""
    return ZoneInfo(get_settings().timezone)
