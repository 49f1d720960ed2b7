"""Load benchmark: FinAssist and a bare Rasa bot under the same simulated customers.

Many simulated customers in both languages talk to FinAssist over REST, and the same
load runs against a bare Rasa bot (the `rasa init` starter, trained here).

Each simulated customer holds realistic multi-turn conversations (greeting, balance,
mortgage rate with follow-ups, transactions, thanks, goodbye; Chinese and English, all
answered by trained skills, none by the language model), logged in with a signed token.
FinAssist runs as one production replica when PostgreSQL, Redis and RabbitMQ answer
here (`endpoints.production.yml`, two Sanic workers, fresh databases dropped after),
else with the development stores (SQLite, one worker); `--stores` chooses. The bare
bot runs as `rasa init` leaves it (in-memory stores, one worker).

Prints and writes (bench/results/) a markdown table and a PNG chart of turn latency
p50/p95/p99, turns per second, errors, peak memory and the CPU time each process spent
per turn, and ends with one line:
`p95_ratio=<FinAssist p95 / bare p95> turns_per_s=<FinAssist> errors=<FinAssist>`.

Usage: `make bench` or `.venv/bin/python bench/load.py [--customers 20] [--seconds 60]
[--stores auto|dev|production] [--workers 2]` (not part of `make test`; needs a
trained model).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import token_for  # noqa: E402
from tests.db import delete_rabbitmq_queue, drop_database  # noqa: E402
from tests.integration.servers import (  # noqa: E402
    free_port,
    running_servers,
    wait_until_ready,
)

RESULTS = ROOT / "bench" / "results"
PG_URL = os.environ.get(
    "FINASSIST_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
VENV_BIN = Path(sys.executable).parent
CONVERSATIONS = {
    "zh": [
        "你好",
        "查一下余额",
        "房贷利率多少",
        "首套房",
        "那二套房呢",
        "贷30年呢",
        "上个月在星巴克花了多少",
        "那这个月呢",
        "谢谢",
        "再见",
    ],
    "en": [
        "hi",
        "what's my balance",
        "what are your mortgage rates",
        "first home",
        "and for a second home?",
        "show my transactions last month",
        "thanks",
        "bye",
    ],
}
CUSTOMERS = {"zh": "C001", "en": "C002"}
BARE_CONVERSATION = ["hello", "I am sad", "yes", "great", "bye"]


@dataclass
class Run:
    """Latencies and errors of one bot under load."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds by process

    def cpu_ms_per_turn(self, name: str | None = None) -> float:
        """CPU time per answered turn of one process (tree), or of all together."""
        used = self.cpu_s.get(name, 0.0) if name else sum(self.cpu_s.values())
        return used * 1000 / len(self.latencies) if self.latencies else float("nan")

    def pct(self, q: float) -> float:
        """The q-quantile of the turn latency, in milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    @property
    def turns_per_s(self) -> float:
        """Answered turns per second of wall time."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def process_tree(pids: list[int]) -> list[int]:
    """The processes and all their descendants (Sanic workers are children)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by processes and their descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in process_tree(pids):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def peak_rss_mb(pids: list[int]) -> float:
    """Peak resident memory (VmHWM) summed over processes and their children, in MB."""
    total = 0
    for pid in process_tree(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


async def customer(
    client: httpx.AsyncClient,
    url: str,
    script: list[str],
    token: str | None,
    deadline: float,
    run: Run,
) -> None:
    """One simulated customer: conversation after conversation until the deadline."""
    while time.monotonic() < deadline:
        sender = f"load-{uuid.uuid4().hex[:12]}"
        for text in script:
            body: dict = {"sender": sender, "message": text}
            if token:
                body["metadata"] = {"auth_token": token}
            started = time.monotonic()
            try:
                reply = await client.post(url, json=body, timeout=30)
                ok = reply.status_code == 200 and bool(reply.json())
            except httpx.HTTPError:
                ok = False
            elapsed = time.monotonic() - started
            if ok:
                run.latencies.append(elapsed)
            else:
                run.errors += 1
            await asyncio.sleep(random.uniform(0.05, 0.3))  # a customer reading
            if time.monotonic() >= deadline:
                return


async def load(
    name: str,
    rasa_url: str,
    scripts: list[tuple[list[str], str | None]],
    customers: int,
    seconds: float,
    pids: dict[str, int],
) -> Run:
    """Run `customers` simulated customers for `seconds` against a REST webhook.

    Also measures the CPU time each server process (with its workers) and this load
    generator spent during the timed run.
    """
    run = Run(name)
    url = f"{rasa_url}/webhooks/rest/webhook"
    limits = httpx.Limits(max_connections=customers + 4)
    async with httpx.AsyncClient(limits=limits) as client:
        for script, token in scripts:  # warm-up: first-request costs are not load
            sender = f"warm-{uuid.uuid4().hex[:8]}"
            for text in script:
                body: dict = {"sender": sender, "message": text}
                if token:
                    body["metadata"] = {"auth_token": token}
                await client.post(url, json=body, timeout=60)
        cpu_before = {n: cpu_seconds([pid]) for n, pid in pids.items()}
        own_before = time.process_time()
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                customer(client, url, *scripts[i % len(scripts)], deadline, run)
                for i in range(customers)
            )
        )
        run.seconds = time.monotonic() - started
        run.cpu_s = {n: cpu_seconds([pid]) - cpu_before[n] for n, pid in pids.items()}
        run.cpu_s["load generator"] = time.process_time() - own_before
    return run


def bare_bot(folder: Path) -> tuple[str, subprocess.Popen]:
    """`rasa init` (trains the starter bot) and `rasa run` it as it comes; its URL."""
    project = folder / "bare"
    project.mkdir()
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
    env.pop("SANIC_WORKERS", None)
    subprocess.run(
        [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(project)],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    log = open(folder / "bare.log", "w")
    process = subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "--port", str(port), "--enable-api"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(f"{url}/status", process)
    return url, process


def wait_for_workers(log: Path, workers: int, seconds: float = 240) -> None:
    """Every Sanic worker loads the model itself: wait until all of them are up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if log.read_text(errors="replace").count("up and running") >= workers:
            return
        time.sleep(1)
    raise RuntimeError(f"not all {workers} Rasa workers started; see {log}")


def production_stores_reachable() -> bool:
    """Whether PostgreSQL, Redis and RabbitMQ answer where the benchmark looks."""
    from sqlalchemy.engine import make_url

    pg = make_url(PG_URL)
    targets = [
        (pg.host or "127.0.0.1", pg.port or 5432),
        (os.environ.get("REDIS_HOST", "127.0.0.1"), 6379),
        (os.environ.get("RABBITMQ_HOST", "127.0.0.1"), 5672),
    ]
    for host, port in targets:
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            return False
    return True


@contextmanager
def production_stores(workers: int) -> Iterator[tuple[dict[str, str], str]]:
    """Fresh PostgreSQL databases (trackers, profiles), Redis and a RabbitMQ queue.

    Yields the environment of `endpoints.production.yml` and the profile DB URL; the
    databases and the queue are deleted afterwards.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    names = [f"finassist_bench_{part}_{uuid.uuid4().hex[:6]}" for part in "tp"]
    urls = [str(make_url(PG_URL).set(database=name)) for name in names]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    env = {
        "TRACKER_DB_URL": urls[0],
        "REDIS_HOST": os.environ.get("REDIS_HOST", "127.0.0.1"),
        "REDIS_PORT": os.environ.get("REDIS_PORT", "6379"),
        "REDIS_PASSWORD": os.environ.get("REDIS_PASSWORD", ""),
        "REDIS_DB": "5",
        "RABBITMQ_HOST": os.environ.get("RABBITMQ_HOST", "127.0.0.1"),
        "RABBITMQ_PORT": os.environ.get("RABBITMQ_PORT", "5672"),
        "RABBITMQ_USER": os.environ.get("RABBITMQ_USER", "guest"),
        "RABBITMQ_PASSWORD": os.environ.get("RABBITMQ_PASSWORD", "guest"),
        "RABBITMQ_QUEUE": f"finassist_bench_{uuid.uuid4().hex[:6]}",
        "SANIC_WORKERS": str(workers),
        # As scripts/run.sh and the Helm values set them for several workers.
        "TF_INTRA_OP_PARALLELISM_THREADS": "1",
        "TF_INTER_OP_PARALLELISM_THREADS": "1",
    }
    try:
        yield env, urls[1]
    finally:
        for name in names:
            drop_database(admin, name)
        admin.dispose()
        delete_rabbitmq_queue(
            env["RABBITMQ_QUEUE"],
            f"amqp://{env['RABBITMQ_USER']}:{env['RABBITMQ_PASSWORD']}@"
            f"{env['RABBITMQ_HOST']}:{env['RABBITMQ_PORT']}/",
        )


def run_finassist(args: argparse.Namespace, folder: Path) -> Run:
    """FinAssist (action server + Rasa) under the load, with the chosen stores."""
    # One load generator is one address: lift the per-sender and per-address limits
    # that would otherwise answer most of this traffic with 429.
    env = {"FINASSIST_RATE_LIMIT_PER_MIN": "1000000"}
    with ExitStack() as stack:
        endpoints, db_url, workers = "endpoints.yml", None, 1
        if args.stores == "production":
            extra, db_url = stack.enter_context(production_stores(args.workers))
            env.update(extra)
            endpoints, workers = "endpoints.production.yml", args.workers
        servers = stack.enter_context(
            running_servers(
                folder / "finassist", extra_env=env, endpoints=endpoints, db_url=db_url
            )
        )
        wait_for_workers(folder / "finassist" / "rasa.log", workers)
        scripts = [
            (CONVERSATIONS[lang], token_for(CUSTOMERS[lang])) for lang in ("zh", "en")
        ]
        pids = servers.pids or {}
        run = asyncio.run(
            load(
                f"FinAssist ({args.stores} stores, {workers} worker"
                f"{'s' if workers > 1 else ''})",
                servers.rasa_url,
                scripts,
                args.customers,
                args.seconds,
                {"Rasa": pids["rasa"], "action server": pids["actions"]},
            )
        )
        run.peak_rss_mb = peak_rss_mb(list(pids.values()))
    return run


def run_bare(args: argparse.Namespace, folder: Path) -> Run:
    """The `rasa init` bot, default settings, under the same load."""
    url, process = bare_bot(folder)
    try:
        run = asyncio.run(
            load(
                "bare rasa init bot",
                url,
                [(BARE_CONVERSATION, None)],
                args.customers,
                args.seconds,
                {"Rasa": process.pid},
            )
        )
        run.peak_rss_mb = peak_rss_mb([process.pid])
    finally:
        process.terminate()
        process.wait(timeout=30)
    return run


def report(runs: list[Run], customers: int, seconds: float) -> str:
    """The markdown table (also written to bench/results/load.md)."""
    lines = [
        f"Load: {customers} concurrent customers for {seconds:.0f} s each, "
        "REST, multi-turn conversations (FinAssist: zh and en, logged in), "
        f"on {os.cpu_count()} CPU cores shared by the servers and the load generator.",
        "",
        "| bot | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB "
        "| server CPU ms/turn |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        servers = sum(v for k, v in r.cpu_s.items() if k != "load generator")
        per_turn = servers * 1000 / len(r.latencies) if r.latencies else float("nan")
        lines.append(
            f"| {r.name} | {len(r.latencies)} | {r.turns_per_s:.1f} | {r.pct(0.5):.0f} "
            f"| {r.pct(0.95):.0f} | {r.pct(0.99):.0f} | {r.errors} "
            f"| {r.peak_rss_mb:.0f} | {per_turn:.0f} |"
        )
    lines.append("")
    cores = os.cpu_count() or 1
    for r in runs:
        parts = ", ".join(f"{k} {r.cpu_ms_per_turn(k):.0f}" for k in r.cpu_s)
        # What the Rasa server alone could serve on these cores, were the action server,
        # the databases and the load generator elsewhere (as deployed): an estimate.
        capacity = cores * 1000 / r.cpu_ms_per_turn("Rasa")
        lines.append(
            f"- {r.name}: CPU ms per turn: {parts}; the Rasa server alone on "
            f"{cores} cores would serve about {capacity:.0f} turns/s (estimate)"
        )
    return "\n".join(lines)


def chart(runs: list[Run], path: Path) -> None:
    """Latency percentiles per bot, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quantiles = [0.5, 0.9, 0.95, 0.99]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(runs)
    for i, r in enumerate(runs):
        ax.bar(
            [x + i * width for x in range(len(quantiles))],
            [r.pct(q) for q in quantiles],
            width,
            label=f"{r.name} ({r.turns_per_s:.1f} turns/s)",
        )
    ax.set_xticks([x + width * (len(runs) - 1) / 2 for x in range(len(quantiles))])
    ax.set_xticklabels([f"p{int(q * 100)}" for q in quantiles])
    ax.set_ylabel("turn latency (ms)")
    ax.set_title("FinAssist vs bare Rasa bot under the same load")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    """Run both loads, write the table and chart, print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--stores",
        choices=("auto", "dev", "production"),
        default="auto",
        help="dev: SQLite, one worker; production: PostgreSQL, Redis, RabbitMQ and "
        "--workers Sanic workers (one replica as deployed); auto: production when "
        "those three answer on this machine, else dev",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="Sanic workers with production stores"
    )
    args = parser.parse_args()
    if args.stores == "auto":
        args.stores = "production" if production_stores_reachable() else "dev"
    random.seed(2026)
    RESULTS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="finassist-bench-"))
    (folder / "finassist").mkdir()
    try:
        runs = [run_finassist(args, folder), run_bare(args, folder)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    table = report(runs, args.customers, args.seconds)
    ratio = runs[0].pct(0.95) / runs[1].pct(0.95)
    table += f"\n\np95 ratio FinAssist / bare: {ratio:.2f}\n"
    (RESULTS / "load.md").write_text(table, encoding="utf-8")
    chart(runs, RESULTS / "load.png")
    print(table)
    print(
        f"median FinAssist turn: {statistics.median(runs[0].latencies) * 1000:.0f} ms"
    )
    print(
        f"p95_ratio={ratio:.2f} turns_per_s={runs[0].turns_per_s:.1f} "
        f"errors={runs[0].errors}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
