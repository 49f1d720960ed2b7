"""Stop and restart each dependency under a live production-configured replica.

One Rasa replica on `endpoints.production.yml` (PostgreSQL tracker store, Redis lock
store and rate limits, RabbitMQ broker) and one action server. For each dependency in
turn (the action server, Redis, RabbitMQ, PostgreSQL), a customer's conversation is
under way; the dependency is stopped; the customer writes in Chinese and in English;
the dependency is started again and the conversation goes on.

Invariants: while it is down every message gets a clear reply in the customer's
language within 2 s (never ``200 []``, never silence); after the restart the
conversation continues; no event stored before the outage is lost.

This test stops the machine's own PostgreSQL, Redis and RabbitMQ (as CI runs them),
so it needs root and their control commands; it restarts each one whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import token_for
from tests.integration.cluster import Cluster, reachable, services_up
from tests.integration.servers import MODEL

PG_VERSION = (
    next(iter(sorted(os.listdir("/etc/postgresql"))), "15")
    if Path("/etc/postgresql").is_dir()
    else "15"
)
REDIS_START = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "-::1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
    "--dir",
    "/var/lib/redis",
    "--logfile",
    "/var/log/redis/ci.log",
]
OUTAGE_REPLY_S = 2.0
RECOVERY_LIMIT_S = 90.0
BALANCE = "28,650.32"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
    pytest.mark.skipif(
        not services_up(), reason="needs local PostgreSQL, Redis and RabbitMQ"
    ),
    pytest.mark.skipif(
        os.geteuid() != 0
        or not all(
            shutil.which(c) for c in ("pg_ctlcluster", "redis-cli", "rabbitmqctl")
        ),
        reason="stopping the local services needs root and their control commands",
    ),
]


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def wait_for(check: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise TimeoutError("service did not come back")


def redis_up() -> bool:
    return (
        subprocess.run(
            ["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True
        ).stdout.strip()
        == "PONG"
    )


@dataclass
class Dependency:
    name: str
    stop: Callable[[Cluster], None]
    start: Callable[[Cluster], None]


DEPENDENCIES = [
    Dependency(
        "action server",
        lambda c: c.kill_actions(),
        lambda c: setattr(c, "actions", c.start_actions()),
    ),
    Dependency(
        "Redis",
        lambda c: run("redis-cli", "-p", "6379", "shutdown", "nosave"),
        lambda c: (run(*REDIS_START), wait_for(redis_up)),
    ),
    Dependency(
        "RabbitMQ",
        lambda c: run("rabbitmqctl", "stop_app"),
        lambda c: (
            run("rabbitmqctl", "start_app"),
            wait_for(lambda: reachable("127.0.0.1", 5672)),
        ),
    ),
    Dependency(
        "PostgreSQL",
        lambda c: run(
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            PG_VERSION,
            "main",
            "stop",
            "-m",
            "fast",
        ),
        lambda c: (
            run(
                "pg_ctlcluster",
                "--skip-systemctl-redirect",
                PG_VERSION,
                "main",
                "start",
            ),
            wait_for(lambda: reachable("127.0.0.1", 5432)),
        ),
    ),
]


def ensure_services_up() -> None:
    """Whatever failed, leave the machine's services running."""
    if not reachable("127.0.0.1", 5432):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", PG_VERSION, "main", "start"],
            capture_output=True,
        )
    if not redis_up():
        subprocess.run(REDIS_START, capture_output=True)
    if not reachable("127.0.0.1", 5672):
        subprocess.run(["rabbitmqctl", "start_app"], capture_output=True)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with ExitStack() as stack:
        stack.callback(ensure_services_up)
        yield Cluster(
            tmp_path_factory.mktemp("faults"),
            stack,
            replicas=("a",),
            extra_env={"SANIC_WORKERS": "1", "FINASSIST_RATE_LIMIT_PER_MIN": "1000"},
        )


def say(cluster: Cluster, sender: str, text: str) -> tuple[int, str, float]:
    url, _ = cluster.replicas["a"]
    started = time.monotonic()
    try:
        reply = httpx.post(
            f"{url}/webhooks/rest/webhook",
            json={
                "sender": sender,
                "message": text,
                "metadata": {"auth_token": token_for("C001")},
            },
            timeout=60,
        )
    except httpx.HTTPError as exc:
        return 0, type(exc).__name__, time.monotonic() - started
    elapsed = time.monotonic() - started
    try:
        body = reply.json()
    except ValueError:
        return reply.status_code, reply.text, elapsed
    if isinstance(body, list):
        return reply.status_code, "\n".join(m.get("text", "") for m in body), elapsed
    return reply.status_code, str(body.get("message") or body.get("error")), elapsed


def test_every_outage_is_answered_and_nothing_stored_is_lost(cluster: Cluster) -> None:
    rows = []
    for dependency in DEPENDENCIES:
        sender = f"fault-{dependency.name.replace(' ', '-').lower()}"
        status, text, _ = say(cluster, sender, "查一下余额")
        assert status == 200 and BALANCE in text, (dependency.name, status, text)
        before = cluster.stored(sender)
        dependency.stop(cluster)
        try:
            zh = say(cluster, sender, "查一下余额")
            en = say(cluster, sender, "what's my balance")
        finally:
            restarted = time.monotonic()
            dependency.start(cluster)
        recovered = None
        while time.monotonic() - restarted < RECOVERY_LIMIT_S:
            status, text, _ = say(cluster, sender, "查一下余额")
            if status == 200 and BALANCE in text:
                recovered = time.monotonic() - restarted
                break
            time.sleep(0.5)
        after = cluster.stored(sender)
        lost = [e for e in before if e not in after]
        rows.append((dependency.name, zh, en, recovered, len(before), len(lost)))

        for language, (status, text, elapsed) in (("zh", zh), ("en", en)):
            assert elapsed < OUTAGE_REPLY_S, (dependency.name, language, elapsed)
            assert status in (200, 503) and text.strip(), (dependency.name, status)
            if language == "zh":
                assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text
            else:
                assert not any("\u4e00" <= ch <= "\u9fff" for ch in text), text
        assert recovered is not None, f"{dependency.name}: no recovery"
        assert lost == [], (dependency.name, lost[:3])
        # The conversation goes on where it was: same events first, then new ones.
        assert after[: len(before)] == before

    table = [
        "| dependency | reply seen while down (zh / en) | reply time | "
        "recovery after restart | events stored before | lost |",
        "|---|---|---|---|---|---|",
    ]

    def shown(reply: tuple[int, str, float]) -> str:
        return f"{reply[0]}: " + " ".join(reply[1].split())[:48]

    for name, zh, en, recovered, stored, lost in rows:
        table.append(
            f"| {name} | {shown(zh)} / {shown(en)} | "
            f"{max(zh[2], en[2]):.2f} s | {recovered:.1f} s | {stored} | {lost} |"
        )
    report = "\n".join(table)
    print("\n" + report)
    (cluster.folder / "fault_injection.md").write_text(report + "\n")
    print(json.dumps({"report": str(cluster.folder / "fault_injection.md")}))
