"""Shared fixtures: a migrated, seeded SQLite profile DB per test, settings, services."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ["FINASSIST_ENV"] = "test"
os.environ["FINASSIST_JWT_SECRET"] = "test-secret-for-finassist-unit-tests-only"

from actions import services
from actions.identity import issue_token
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from actions.settings import get_settings
from scripts.seed_profiles import migrate, seed

SECRET = os.environ["FINASSIST_JWT_SECRET"]
TODAY = date.today()


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated and seeded database file, copied for every test that needs one."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    seed(engine, TODAY)
    engine.dispose()
    return path


@pytest.fixture
def db_url(seeded_template: Path, tmp_path: Path) -> str:
    """A private copy of the seeded demo database."""
    target = tmp_path / "profile.db"
    shutil.copy(seeded_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def repo(db_url: str) -> Iterator[ProfileRepository]:
    """The repository over the private database, with the real clock."""
    engine = make_engine(db_url)
    yield ProfileRepository(engine)
    engine.dispose()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    """Settings are re-read from the environment in every test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def use_repo(
    repo: ProfileRepository, monkeypatch: pytest.MonkeyPatch
) -> ProfileRepository:
    """Make the actions use the test repository."""
    monkeypatch.setattr(services, "profile_repository", lambda: repo)
    return repo


def token_for(customer_id: str, minutes: int = 30) -> str:
    """A valid login token for a demo customer."""
    return issue_token(customer_id, SECRET, minutes, now=datetime.now(timezone.utc))
