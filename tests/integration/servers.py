"""Start the real FinAssist servers for integration tests (free ports, seeded DB)."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import socketio

from actions.profile_db.repository import ProfileRepository
from actions.profile_db.session import make_engine
from scripts.seed_profiles import migrate, seed
from tests.conftest import SECRET

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "finassist.tar.gz"
VENV_BIN = Path(sys.executable).parent
RASA_API_TOKEN = "live-test-token"
DESK_TOKEN = "live-desk-token-0123456789"
ACTION_SERVER_TOKEN = "live-action-server-secret-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, seconds: int = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before {url}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not ready after {seconds}s")


@dataclass
class Servers:
    rasa_url: str
    desk_url: str
    db_url: str
    repo: ProfileRepository
    tracker_db_url: str = ""
    actions_url: str = ""
    folder: Path | None = None
    webchat_url: str = ""
    pids: dict[str, int] | None = None  # process ids by name (for memory figures)


@contextmanager
def running_servers(
    folder: Path,
    with_desk: bool = False,
    extra_env: dict[str, str] | None = None,
    with_webchat: bool = False,
    endpoints: str = "endpoints.yml",
    db_url: str | None = None,
) -> Iterator[Servers]:
    """Action server, Rasa server (REST + socket.io, API on) and optionally the desk.

    `endpoints` picks the Rasa endpoints file (production stores need their variables
    in `extra_env`); `db_url` an empty profile database other than a new SQLite file.
    """
    db_url = db_url or f"sqlite:///{folder / 'profile.db'}"
    migrate(db_url)
    engine = make_engine(db_url)
    seed(engine, date.today())
    engine.dispose()
    rasa_port, actions_port, desk_port = free_port(), free_port(), free_port()
    webchat_port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        FINASSIST_JWT_SECRET=SECRET,
        FINASSIST_ENV="test",
        RASA_TELEMETRY_ENABLED="false",
        PYTHONPATH=str(ROOT),
        ACTION_SERVER_URL=f"http://127.0.0.1:{actions_port}/webhook",
        RASA_URL=f"http://127.0.0.1:{rasa_port}",
        RASA_API_TOKEN=RASA_API_TOKEN,
        AGENT_DESK_TOKEN=DESK_TOKEN,
        AGENT_DESK_PORT=str(desk_port),
        TRACKER_DB_URL=f"sqlite:///{folder / 'trackers.db'}",
        ACTION_SERVER_TOKEN=ACTION_SERVER_TOKEN,
        WEBCHAT_PORT=str(webchat_port),
        WEBCHAT_RASA_URL=f"http://127.0.0.1:{rasa_port}",
        WEBCHAT_DEMO_LOGIN="true",
    )
    env.update(extra_env or {})
    commands = {
        "actions": [
            str(VENV_BIN / "python"),
            "-m",
            "actions.server",
            "--port",
            str(actions_port),
        ],
        "rasa": [
            str(VENV_BIN / "rasa"),
            "run",
            "--model",
            str(MODEL),
            "--endpoints",
            endpoints,
            "--credentials",
            "credentials.yml",
            "--port",
            str(rasa_port),
            "--enable-api",
            "--auth-token",
            RASA_API_TOKEN,
        ],
    }
    if with_desk:
        commands["desk"] = [sys.executable, "-m", "desk"]
    if with_webchat:
        commands["webchat"] = [sys.executable, "-m", "webchat"]
    logs, processes = [], {}
    try:
        for name, command in commands.items():
            log = open(folder / f"{name}.log", "w")
            logs.append(log)
            processes[name] = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until_ready(
            f"http://127.0.0.1:{actions_port}/health", processes["actions"]
        )
        wait_until_ready(
            f"http://127.0.0.1:{rasa_port}/status?token={RASA_API_TOKEN}",
            processes["rasa"],
        )
        if with_desk:
            wait_until_ready(f"http://127.0.0.1:{desk_port}/", processes["desk"])
        if with_webchat:
            wait_until_ready(
                f"http://127.0.0.1:{webchat_port}/api/config", processes["webchat"]
            )
        repo = ProfileRepository(make_engine(db_url))
        yield Servers(
            f"http://127.0.0.1:{rasa_port}",
            f"http://127.0.0.1:{desk_port}",
            db_url,
            repo,
            env["TRACKER_DB_URL"],
            f"http://127.0.0.1:{actions_port}",
            folder,
            f"http://127.0.0.1:{webchat_port}",
            {name: p.pid for name, p in processes.items()},
        )
    finally:
        for process in processes.values():
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs:
            log.close()


class WebCustomer:
    """One socket.io connection of the web page, with the server-issued session."""

    def __init__(self, rasa_url: str, wait_s: float = 30) -> None:
        self.replies: queue.Queue[dict] = queue.Queue()
        self.confirmed: queue.Queue[str] = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("bot_uttered", self.replies.put)
        self.sio.on("session_confirm", self.confirmed.put)
        self.sio.connect(rasa_url, transports=["polling"], wait_timeout=wait_s)
        self.sio.emit("session_request", {"session_id": None})
        self.session_id = self.confirmed.get(timeout=wait_s)

    def close(self) -> None:
        """Leave as a browser does: the server hears of it at once.

        python-engineio's polling client stops its sender before the goodbye is
        flushed, so the server would learn of the disconnection only from missed pings
        (45 s): socket.io's DISCONNECT is sent first and waited for.
        """
        if self.sio.connected:
            for namespace in list(self.sio.namespaces):
                self.sio._send_packet(
                    self.sio.packet_class(
                        socketio.packet.DISCONNECT, namespace=namespace
                    )
                )
            deadline = time.monotonic() + 5
            while self.sio.eio.queue.unfinished_tasks and time.monotonic() < deadline:
                time.sleep(0.02)
        self.sio.disconnect()
