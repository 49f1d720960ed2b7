"""Production-configured FinAssist processes for integration tests.

One action server and Rasa replicas on `endpoints.production.yml`: the masking tracker
store on a throw-away PostgreSQL database, the Redis lock store, the masking RabbitMQ
broker with its own queue, a seeded SQLite profile database. Used by the replica and
the fault-injection tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from scripts.seed_profiles import migrate, seed
from tests.conftest import SECRET, token_for
from tests.db import delete_rabbitmq_queue, drop_database
from tests.integration.servers import (
    ACTION_SERVER_TOKEN,
    MODEL,
    RASA_API_TOKEN,
    ROOT,
    free_port,
    wait_until_ready,
)

PG_URL = os.environ.get(
    "FINASSIST_TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
        return True
    except OSError:
        return False


def services_up() -> bool:
    pg = make_url(PG_URL)
    return (
        reachable(pg.host or "127.0.0.1", pg.port or 5432)
        and reachable("127.0.0.1", 6379)
        and reachable("127.0.0.1", 5672)
    )


RATE_LIMIT = 40  # per sender per minute; the tests below stay under it otherwise


class Cluster:
    """One action server and two Rasa replicas sharing the production stores."""

    def __init__(
        self,
        folder: Path,
        stack: ExitStack,
        replicas: tuple[str, ...] = ("a", "b"),
        extra_env: dict[str, str] | None = None,
    ) -> None:
        name = f"finassist_replicas_{uuid.uuid4().hex[:8]}"
        # pre-ping: the fault-injection test restarts PostgreSQL under this engine
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        stack.callback(self._drop, admin, name)
        self.tracker_url = str(make_url(PG_URL).set(database=name))
        self.queue = f"finassist_test_{uuid.uuid4().hex[:8]}"
        stack.callback(delete_rabbitmq_queue, self.queue)
        db_url = f"sqlite:///{folder / 'profile.db'}"
        migrate(db_url)
        engine = make_engine(db_url)
        seed(engine, date.today())
        engine.dispose()
        self.repo = ProfileRepository(make_engine(db_url))
        actions_port = free_port()
        self.env = dict(
            os.environ,
            DATABASE_URL=db_url,
            FINASSIST_JWT_SECRET=SECRET,
            FINASSIST_ENV="test",
            RASA_TELEMETRY_ENABLED="false",
            PYTHONPATH=str(ROOT),
            ACTION_SERVER_URL=f"http://127.0.0.1:{actions_port}/webhook",
            ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
            TRACKER_DB_URL=self.tracker_url,
            REDIS_HOST="127.0.0.1",
            REDIS_PORT="6379",
            REDIS_PASSWORD="",
            REDIS_DB="3",
            RABBITMQ_HOST="127.0.0.1",
            RABBITMQ_PORT="5672",
            RABBITMQ_USER="guest",
            RABBITMQ_PASSWORD="guest",
            RABBITMQ_QUEUE=self.queue,
            SANIC_WORKERS="2",  # allowed: the lock store is not in memory
            SOCKETIO_REDIS_URL="redis://127.0.0.1:6379/3",
            # Customer rate limits shared by both replicas (and their workers).
            RATE_LIMIT_REDIS_URL="redis://127.0.0.1:6379/4",
            FINASSIST_RATE_LIMIT_PER_MIN=str(RATE_LIMIT),
        )
        self.env.update(extra_env or {})
        self.folder, self.stack = folder, stack
        self.actions_port = actions_port
        self.actions = self.start_actions()
        self.replicas: dict[str, tuple[str, subprocess.Popen]] = {}
        for name_ in replicas:
            port = free_port()
            process = self._start(
                f"rasa-{name_}",
                [
                    str(Path(sys.executable).parent / "rasa"),
                    "run",
                    "--model",
                    str(MODEL),
                    "--endpoints",
                    "endpoints.production.yml",
                    "--credentials",
                    "credentials.yml",
                    "--port",
                    str(port),
                    "--enable-api",
                    "--auth-token",
                    RASA_API_TOKEN,
                ],
            )
            url = f"http://127.0.0.1:{port}"
            self.replicas[name_] = (url, process)
        for url, process in self.replicas.values():
            wait_until_ready(f"{url}/status?token={RASA_API_TOKEN}", process)

    def start_actions(self) -> subprocess.Popen:
        """Start (or restart) the action server on its port."""
        actions = self._start(
            "actions",
            [sys.executable, "-m", "actions.server", "--port", str(self.actions_port)],
        )
        wait_until_ready(f"http://127.0.0.1:{self.actions_port}/health", actions)
        return actions

    def kill_actions(self) -> None:
        """Kill the action server (SIGKILL), as a crash would."""
        os.killpg(self.actions.pid, signal.SIGKILL)
        self.actions.wait(timeout=20)

    def _start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "a")
        # Its own process group: with SANIC_WORKERS the server forks workers, and a
        # replica is only down when all of them are.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def stop() -> None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    continue
            log.close()

        self.stack.callback(stop)
        return process

    @staticmethod
    def _drop(admin, name: str) -> None:  # type: ignore[no-untyped-def]
        drop_database(admin, name)
        admin.dispose()

    def say(self, replica: str, sender: str, message: str) -> str:
        url, _ = self.replicas[replica]
        reply = httpx.post(
            f"{url}/webhooks/rest/webhook",
            json={
                "sender": sender,
                "message": message,
                "metadata": {"auth_token": token_for("C001")},
            },
            timeout=60,
        )
        reply.raise_for_status()
        return "\n".join(m.get("text", "") for m in reply.json())

    def stored(self, sender: str) -> list[dict]:
        engine = create_engine(self.tracker_url)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT data FROM events WHERE sender_id = :s ORDER BY id"),
                {"s": sender},
            ).all()
        engine.dispose()
        return [json.loads(r[0]) for r in rows]
