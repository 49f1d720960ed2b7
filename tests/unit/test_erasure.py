"""Customer data erasure: profile DB, tracker store, receipt, CLI and admin API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from actions import erasure
from actions.erasure import (
    ERASED_LAST4,
    ERASED_NAME_EN,
    ERASED_NAME_ZH,
    ERASED_PAYEE_NAME,
    ERASED_TRANSFER_DESCRIPTION,
    LEDGER_REASON,
    ErasureRefused,
    UnknownCustomer,
    erase_customer,
)
from actions.profile_db import models as m
from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import session_scope
from actions.settings import Settings, SettingsError
from addons.tracker_store import MaskingSQLTrackerStore
from desk.app import create_app
from desk.rasa_client import RasaClient
from scripts.erase_customer import main as erase_main
from tests.db import all_balances, count_rows
from tests.erasure_data import (
    C001_APP,
    C002_APP,
    C002_WEB,
    PHONE,
    Population,
    conversation,
    populate,
    rows_of,
    rows_of_others,
    stored_events,
    transfer_legs,
)

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
DESK_TOKEN = "desk-test-token-0123456789"
ADMIN_TOKEN = "admin-test-token-9876543210"


@pytest.fixture
def engine(repo: ProfileRepository) -> Engine:
    return repo.engine


@pytest.fixture
def tracker_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'trackers.db'}"


@pytest.fixture
def store(tracker_url: str) -> Iterator[MaskingSQLTrackerStore]:
    tracker_store = MaskingSQLTrackerStore(host=tracker_url)
    yield tracker_store
    tracker_store.engine.dispose()


@pytest.fixture
async def population(
    repo: ProfileRepository, engine: Engine, store: MaskingSQLTrackerStore
) -> Population:
    return await populate(repo, engine, store)


def ledger(engine: Engine) -> tuple[object, ...]:
    return (
        all_balances(engine),
        count_rows(engine, m.Account),
        count_rows(engine, m.Transfer),
        count_rows(engine, m.Transaction),
        transfer_legs(engine),
    )


def erase(engine: Engine, tracker_url: str, customer: str = "C002"):  # type: ignore[no-untyped-def]
    return erase_customer(customer, engine, tracker_url, clock=lambda: NOW)


async def test_erasure_removes_the_customer_and_nobody_else(
    population: Population,
    engine: Engine,
    store: MaskingSQLTrackerStore,
    tracker_url: str,
) -> None:
    others_before = rows_of_others(engine, "C002", population.erased)
    ledger_before = ledger(engine)
    c002_transactions = len(rows_of(engine, m.Transaction, "C002"))

    receipt = erase(engine, tracker_url)

    # Tracker store: every C002 conversation is gone, everyone else's is whole.
    assert stored_events(store) == {c: population.events[c] for c in population.kept}
    assert await store.retrieve(C002_WEB) is None
    kept = await store.retrieve(C001_APP)
    assert kept is not None and kept.latest_message.text == "给Emma转50"
    assert receipt.conversations_deleted == 3
    assert receipt.tracker_events_deleted == sum(
        population.events[c] for c in population.erased
    )
    # Other customers' rows (C001's payee for C002 included) and the ledger are intact.
    assert rows_of_others(engine, "C002", population.erased) == others_before
    assert ledger(engine) == ledger_before
    # C002's profile.
    for model in (m.ChannelIdentity, m.Interaction, m.EmotionRecord):
        assert rows_of(engine, model, "C002") == []
    with session_scope(engine) as s:
        customer = s.get(m.Customer, "C002")
        assert (customer.name_zh, customer.name_en, customer.phone) == (
            ERASED_NAME_ZH,
            ERASED_NAME_EN,
            None,
        )
        assert customer.tier == "standard"  # not personal, needed by the ledger
        anonymous = s.execute(
            sa.select(m.EmotionRecord).where(
                m.EmotionRecord.conversation_id == C002_APP
            )
        ).all()
        assert anonymous == []  # stored before login, in C002's conversation
    [ticket] = rows_of(engine, m.HandoffTicket, "C002")
    assert (ticket.summary, ticket.emotion, ticket.status) == ("{}", None, "closed")
    assert ticket.reason == "high_stakes" and ticket.released_at is not None
    [payee] = rows_of(engine, m.Payee, "C002")  # Alice Zhang: a transfer refers to her
    assert (payee.name, payee.aliases, payee.account_number) == (
        ERASED_PAYEE_NAME,
        "",
        "ERASED",
    )
    cards = rows_of(engine, m.Card, "C002")
    assert [c.last4 for c in cards] == [ERASED_LAST4, ERASED_LAST4]
    assert len(rows_of(engine, m.Transaction, "C002")) == c002_transactions
    [transfer] = rows_of(engine, m.Transfer, "C002")
    assert transfer.conversation_id == C002_APP and transfer.payee_id == payee.id

    # The receipt says exactly that.
    tables = receipt.as_dict()["tables"]
    counts = {
        name: (t["deleted"], t["anonymised"], t["retained"])
        for name, t in tables.items()
    }
    assert counts.pop("risk_alerts", (0, 0, 0)) == (0, 0, 0)  # table from 0004 on
    assert counts == {
        "channel_identities": (1, 0, 0),
        "interactions": (1, 0, 0),
        "emotion_records": (2, 0, 0),
        "satisfaction_ratings": (2, 0, 0),
        "experiment_assignments": (1, 0, 0),
        "handoff_tickets": (0, 1, 0),
        "payees": (3, 1, 1),
        "cards": (0, 2, 0),
        "customers": (0, 1, 0),
        "accounts": (0, 0, 2),
        "transfers": (0, 0, 1),
        "transactions": (0, 1, c002_transactions - 1),
    }
    for name in ("accounts", "transfers"):
        assert tables[name]["reason"] == LEDGER_REASON
    assert tables["transactions"]["reason"].startswith(LEDGER_REASON)
    # The retained ledger lines no longer name the customer's payees.
    descriptions = [t.description for t in rows_of(engine, m.Transaction, "C002")]
    assert descriptions and not [d for d in descriptions if "Alice" in d]
    assert ERASED_TRANSFER_DESCRIPTION in descriptions
    # Every store the data reached is listed, with what happened there.
    stores = receipt.as_dict()["stores"]
    assert set(stores) == {
        "profile database",
        "conversation store",
        "login tokens",
        "event stream",
        "logs",
    }
    assert "3 conversations" in stores["conversation store"]
    assert "revoked" in stores["login tokens"]
    assert "no event broker configured" in stores["event stream"]
    assert "anti-money-laundering" in LEDGER_REASON
    assert "other customers" in tables["payees"]["reason"]
    assert tables["channel_identities"]["reason"] is None
    assert receipt.as_dict()["erased_at"] == "2026-11-25T08:30:00+00:00"
    ratings = ProfileRepository(engine)
    assert ratings.ratings(C002_WEB) == [] and ratings.ratings(C002_APP) == []
    assert ratings.ratings(C001_APP) == [(5, None)]  # another customer's rating stays
    assert receipt.changed
    # No personal data in the receipt itself.
    text = receipt.as_text() + receipt.as_json()
    for secret in ("Emma", "Walker", "Alice", PHONE, C002_WEB, C002_APP):
        assert secret not in text


async def test_second_run_finds_nothing_left(
    population: Population, engine: Engine, tracker_url: str
) -> None:
    first = erase(engine, tracker_url)
    after_first = rows_of_others(engine, "", ())  # every row

    second = erase(engine, tracker_url)

    assert rows_of_others(engine, "", ()) == after_first
    assert not second.changed and first.changed
    assert (second.conversations_deleted, second.tracker_events_deleted) == (0, 0)
    assert all(t.deleted == t.anonymised == 0 for t in second.tables.values())
    # What stays is reported as retained, with the reason.
    assert second.tables["customers"].retained == 1
    assert second.tables["cards"].retained == 2
    assert second.tables["handoff_tickets"].retained == 1
    assert second.tables["transactions"].anonymised == 0
    assert second.tables["transactions"].retained == (
        first.tables["transactions"].retained + first.tables["transactions"].anonymised
    )
    assert "nothing left to erase" in second.as_text()


def test_unknown_customer_and_clearing_books_are_refused(
    engine: Engine, tracker_url: str
) -> None:
    before = rows_of_others(engine, "", ())
    with pytest.raises(UnknownCustomer):
        erase(engine, tracker_url, "C999")
    with pytest.raises(ErasureRefused):
        erase(engine, tracker_url, "BANK")
    assert rows_of_others(engine, "", ()) == before
    assert not Path(tracker_url.removeprefix("sqlite:///")).exists()  # none created


async def test_tracker_store_failure_rolls_the_profile_back(
    population: Population,
    engine: Engine,
    store: MaskingSQLTrackerStore,
    tracker_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = rows_of_others(engine, "", ())

    def broken(*args: object) -> tuple[int, int, list[str]]:
        raise OperationalError("DELETE FROM events", {}, Exception("disk I/O error"))

    monkeypatch.setattr(erasure, "delete_conversations", broken)
    with pytest.raises(OperationalError):
        erase(engine, tracker_url)
    assert rows_of_others(engine, "", ()) == before
    monkeypatch.undo()
    assert erase(engine, tracker_url).conversations_deleted == 3  # a retry completes


RISK_ALERT = {  # the columns of migration 0004; a test database may predate it
    "conversation_id": sa.String(255),
    "customer_id": sa.String(16),
    "channel": sa.String(32),
    "language": sa.String(2),
    "source": sa.String(16),
    "rule_id": sa.String(48),
    "rule_version": sa.Integer(),
    "ruleset": sa.String(32),
    "category": sa.String(32),
    "score": sa.Float(),
    "excerpt": sa.Text(),
    "action_taken": sa.String(32),
    "status": sa.String(16),
    "created_at": sa.DateTime(timezone=True),
}


def add_risk_alerts(engine: Engine, *alerts: tuple[str, str]) -> None:
    """Alerts (customer, conversation) in `risk_alerts`, creating it if not migrated."""
    with engine.begin() as conn:
        if not sa.inspect(conn).has_table("risk_alerts"):
            sa.Table(
                "risk_alerts",
                sa.MetaData(),
                sa.Column("id", sa.Integer, primary_key=True),
                *(sa.Column(name, kind) for name, kind in RISK_ALERT.items()),
            ).create(conn)
        table = sa.Table("risk_alerts", sa.MetaData(), autoload_with=conn)
        for customer, conversation_id in alerts:
            row = {
                "conversation_id": conversation_id,
                "customer_id": customer,
                "channel": "socketio",
                "language": "zh",
                "source": "message",
                "rule_id": "safe-account-scam",
                "rule_version": 1,
                "ruleset": "2026-11",
                "category": "fraud",
                "score": 0.9,
                "excerpt": "转到[ACCOUNT ****0001]",
                "action_taken": "warn",
                "status": "open",
                "created_at": NOW,
            }
            conn.execute(
                table.insert().values({k: row[k] for k in row if k in table.c})
            )


@pytest.mark.parametrize("schema", ["migrated", "created here"])
async def test_risk_alerts_and_unknown_tables_are_found_by_inspection(
    population: Population,
    engine: Engine,
    store: MaskingSQLTrackerStore,
    tracker_url: str,
    schema: str,
) -> None:
    if schema == "created here":  # not from migration 0004: found all the same
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS risk_alerts")
    add_risk_alerts(engine, ("C002", "risk-c002-4"), ("C001", "risk-c001-2"))
    # A table that no erasure rule knows yet.
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE complaints (id INTEGER, customer_id TEXT)")
        conn.exec_driver_sql("INSERT INTO complaints VALUES (1, 'C002')")
    # A conversation that only the risk alert links to C002 (no customer_id slot).
    for sender in ("risk-c002-4", "risk-c001-2"):
        await store.save(conversation(sender, None, "有人让我转到安全账户"))

    receipt = erase(engine, tracker_url)

    assert "risk-c002-4" not in stored_events(store)
    assert "risk-c001-2" in stored_events(store)
    assert receipt.conversations_deleted == 4
    alerts = receipt.tables["risk_alerts"]
    assert (alerts.deleted, alerts.anonymised, alerts.retained) == (0, 0, 1)
    assert "anti-money-laundering" in (alerts.reason or "")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM risk_alerts").scalar() == 2
    complaints = receipt.tables["complaints"]
    assert complaints.retained == 1 and "review" in (complaints.reason or "")


def test_receipt_without_tracker_store_or_risk_table(
    engine: Engine, tracker_url: str
) -> None:
    with engine.begin() as conn:  # as before migration 0004
        conn.exec_driver_sql("DROP TABLE IF EXISTS risk_alerts")
    receipt = erase(engine, tracker_url, "C003")
    assert (receipt.conversations_deleted, receipt.tracker_events_deleted) == (0, 0)
    assert "risk_alerts" not in receipt.tables
    assert list(receipt.tables)[:3] == [
        "channel_identities",
        "interactions",
        "emotion_records",
    ]


# --- settings -----------------------------------------------------------------------
def test_settings_read_admin_token_and_tracker_url() -> None:
    settings = Settings.from_env(
        {"ADMIN_API_TOKEN": " a-token ", "TRACKER_DB_URL": "postgresql://h/db"}
    )
    assert (settings.admin_token, settings.tracker_db_url) == (
        "a-token",
        "postgresql://h/db",
    )
    assert "a-token" not in repr(settings)
    defaults = Settings.from_env({})
    assert defaults.admin_token == ""
    assert defaults.tracker_db_url.endswith("/trackers.db")
    with pytest.raises(SettingsError):
        Settings.from_env({"ADMIN_API_TOKEN": "same", "AGENT_DESK_TOKEN": "same"})


# --- command line -------------------------------------------------------------------
def run_cli(db_url: str, tracker_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": db_url, "TRACKER_DB_URL": tracker_url}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "erase_customer.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


async def test_cli_prints_the_receipt_and_exit_codes(
    population: Population, db_url: str, tracker_url: str, engine: Engine
) -> None:
    done = run_cli(db_url, tracker_url, "C002")
    assert done.returncode == 0, done.stderr
    text, _, rest = done.stdout.partition("\n\n{")
    assert text.startswith("Erasure receipt for customer C002")
    assert "conversations deleted: 3" in text
    assert "anti-money-laundering" in text
    receipt = json.loads("{" + rest)
    assert receipt["tables"]["customers"]["anonymised"] == 1
    assert rows_of(engine, m.ChannelIdentity, "C002") == []

    again = run_cli(db_url, tracker_url, "C002", "--yes")
    assert again.returncode == 0 and "nothing left to erase" in again.stdout

    unknown = run_cli(db_url, tracker_url, "C999")
    assert unknown.returncode == 2
    assert "no customer C999" in unknown.stderr and unknown.stdout == ""
    assert run_cli(db_url, tracker_url, "BANK").returncode == 3


@pytest.mark.parametrize(("typed", "code"), [("C02", 1), ("C002", 0)])
def test_cli_in_a_terminal_asks_for_the_id_again(
    db_url: str,
    tracker_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    typed: str,
    code: int,
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: typed)
    args = ["C002", "--url", db_url, "--tracker-url", tracker_url]
    assert erase_main(args) == code
    with session_scope(engine) as s:
        name = s.get(m.Customer, "C002").name_en
    assert name == ("Emma Walker" if code else ERASED_NAME_EN)
    if code:
        assert "not confirmed" in capsys.readouterr().err


def test_make_erase_refuses_without_customer() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CUSTOMER", "MAKEFLAGS")}
    done = subprocess.run(
        ["make", "-s", "erase"],
        capture_output=True,
        text=True,
        env={**env, "DATABASE_URL": "sqlite:////nonexistent/never.db"},
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode != 0
    assert "make erase CUSTOMER=<id>" in done.stdout + done.stderr


# --- admin API on the agent desk ----------------------------------------------------
def desk_settings(tracker_url: str, admin_token: str = ADMIN_TOKEN) -> Settings:
    return replace(
        Settings.from_env({}),
        desk_token=DESK_TOKEN,
        admin_token=admin_token,
        tracker_db_url=tracker_url,
    )


async def desk_client(
    repo: ProfileRepository, settings: Settings
) -> AsyncIterator[TestClient]:
    rasa = RasaClient(
        "http://rasa.test",
        "rasa-token",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={})),
    )
    async with TestClient(TestServer(create_app(settings, repo, rasa))) as client:
        yield client


@pytest.fixture
async def admin(repo: ProfileRepository, tracker_url: str) -> AsyncIterator[TestClient]:
    async for client in desk_client(repo, desk_settings(tracker_url)):
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong"), bearer(DESK_TOKEN), {"Authorization": ADMIN_TOKEN}],
)
async def test_admin_api_needs_the_admin_token(
    admin: TestClient, engine: Engine, headers: dict[str, str]
) -> None:
    response = await admin.delete("/api/admin/customers/C002", headers=headers)
    assert response.status == 401
    assert (await response.json()) == {"error": "missing or wrong admin token"}
    assert rows_of(engine, m.Payee, "C002") != []


async def test_admin_token_does_not_open_the_agent_api(admin: TestClient) -> None:
    response = await admin.get("/api/handoffs", headers=bearer(ADMIN_TOKEN))
    assert response.status == 401
    ok = await admin.get("/api/handoffs", headers=bearer(DESK_TOKEN))
    assert ok.status == 200


async def test_admin_api_erases_and_answers_the_receipt(
    admin: TestClient,
    population: Population,
    engine: Engine,
    store: MaskingSQLTrackerStore,
) -> None:
    url = "/api/admin/customers/C002"
    response = await admin.delete(url, headers=bearer(ADMIN_TOKEN))
    assert response.status == 200
    body = await response.json()
    assert body["customer_id"] == "C002" and body["changed"] is True
    assert body["conversations_deleted"] == 3
    assert body["tables"]["transactions"]["reason"].startswith(LEDGER_REASON)
    assert "login tokens" in body["stores"]
    assert set(stored_events(store)) == set(population.kept)
    with session_scope(engine) as s:
        assert s.get(m.Customer, "C002").name_en == ERASED_NAME_EN

    again = await (await admin.delete(url, headers=bearer(ADMIN_TOKEN))).json()
    assert again["changed"] is False
    missing = await admin.delete(
        "/api/admin/customers/C999", headers=bearer(ADMIN_TOKEN)
    )
    assert missing.status == 404
    assert (await missing.json()) == {"error": "no such customer"}
    refused = await admin.delete(
        "/api/admin/customers/BANK", headers=bearer(ADMIN_TOKEN)
    )
    assert refused.status == 409


async def test_admin_api_is_off_without_a_token(
    repo: ProfileRepository, tracker_url: str, engine: Engine
) -> None:
    async for client in desk_client(repo, desk_settings(tracker_url, admin_token="")):
        for headers in ({}, bearer(""), bearer(DESK_TOKEN)):
            response = await client.delete("/api/admin/customers/C002", headers=headers)
            assert response.status == 503
            assert (await response.json()) == {"error": "admin API disabled"}
    assert rows_of(engine, m.Payee, "C002") != []


class RecordingStream:
    where = "test stream"

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict] = []
        self.fail = fail

    def publish(self, message: dict) -> None:
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.append(message)


async def test_erasure_revokes_old_tokens_and_tells_the_stream(
    population: Population, engine: Engine, tracker_url: str
) -> None:
    from actions.identity import verify_login
    from actions.ownership import LoginRevocations
    from actions.profile_db.session import make_engine
    from tests.conftest import SECRET, token_for

    old_token = token_for("C002")
    stream = RecordingStream()
    receipt = erase_customer(
        "C002",
        engine,
        tracker_url,
        clock=lambda: datetime.now(timezone.utc),
        event_stream=stream,
    )
    login = verify_login(old_token, SECRET)
    assert login is not None  # still a valid signature...
    revocations = LoginRevocations(make_engine(tracker_url))
    assert revocations.is_revoked("C002", login.issued_at)  # ...that counts for nothing
    assert not revocations.is_revoked("C001", login.issued_at)
    [notice] = stream.sent
    assert notice["event"] == "finassist_customer_erased"
    assert notice["customer_id"] == "C002"
    assert sorted(notice["conversations"]) == sorted(population.erased)
    assert "test stream" in receipt.stores["event stream"]
    failing = erase_customer(
        "C002", engine, tracker_url, event_stream=RecordingStream(fail=True)
    )
    assert "NOT published" in failing.stores["event stream"]


async def test_erasing_b_never_touches_a_conversation_a_owns(
    population: Population,
    engine: Engine,
    store: MaskingSQLTrackerStore,
    tracker_url: str,
) -> None:
    """Before conversations were bound to a customer, B's token posted into A's
    conversation set its customer_id slot to B, and erasing B deleted A's
    conversation. Ownership decides now, even for such old data."""
    from rasa.shared.core.events import SlotSet, UserUttered

    from actions.ownership import ConversationOwners
    from actions.profile_db.session import make_engine

    owners = ConversationOwners(make_engine(tracker_url))
    assert owners.claim(C001_APP, "C001") == "C001"
    tracker = await store.retrieve(C001_APP)
    assert tracker is not None
    tracker.update(UserUttered("what's my balance", metadata={}))
    tracker.update(SlotSet("customer_id", "C002"))  # the old fault's trace
    await store.save(tracker)
    before = stored_events(store)[C001_APP]

    erase(engine, tracker_url)

    assert stored_events(store)[C001_APP] == before
    assert owners.owner(C001_APP) == "C001"
