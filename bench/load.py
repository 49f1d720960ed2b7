"""Load benchmark: FinAssist and a bare Rasa bot under the same simulated customers.

Many simulated customers in both languages talk to FinAssist over REST, and the same
load runs against a bare Rasa bot (the `rasa init` starter, trained here).

Each simulated customer holds realistic multi-turn conversations (greeting, balance,
mortgage rate with follow-ups, transactions, thanks, goodbye; Chinese and English, all
answered by trained skills, none by the language model), logged in with a signed token.
Prints and writes (bench/results/) a markdown table and a PNG chart of turn latency
p50/p95/p99, turns per second, errors and peak memory, and ends with one line:
`p95_ratio=<FinAssist p95 / bare p95> turns_per_s=<FinAssist> errors=<FinAssist>`.

Usage: `make bench` or `.venv/bin/python bench/load.py [--customers 20] [--seconds 60]`
(not part of `make test`; needs a trained model).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.conftest import token_for  # noqa: E402
from tests.integration.servers import (  # noqa: E402
    free_port,
    running_servers,
    wait_until_ready,
)

RESULTS = ROOT / "bench" / "results"
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


def peak_rss_mb(pids: list[int]) -> float:
    """Peak resident memory (VmHWM) summed over processes, in MB (Linux)."""
    total = 0
    for pid in pids:
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
) -> Run:
    """Run `customers` simulated customers for `seconds` against a REST webhook."""
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
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(
                customer(client, url, *scripts[i % len(scripts)], deadline, run)
                for i in range(customers)
            )
        )
        run.seconds = time.monotonic() - started
    return run


def bare_bot(folder: Path) -> tuple[str, subprocess.Popen]:
    """`rasa init` (trains the starter bot) and `rasa run` it; returns its URL."""
    project = folder / "bare"
    project.mkdir()
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false")
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


def report(runs: list[Run], customers: int, seconds: float) -> str:
    """The markdown table (also written to bench/results/load.md)."""
    lines = [
        f"Load: {customers} concurrent customers for {seconds:.0f} s each, "
        "REST, multi-turn conversations (FinAssist: zh and en, logged in).",
        "",
        "| bot | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.name} | {len(r.latencies)} | {r.turns_per_s:.1f} | {r.pct(0.5):.0f} "
            f"| {r.pct(0.95):.0f} | {r.pct(0.99):.0f} | {r.errors} "
            f"| {r.peak_rss_mb:.0f} |"
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
    args = parser.parse_args()
    random.seed(2026)
    RESULTS.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="finassist-bench-"))
    runs: list[Run] = []
    try:
        (folder / "finassist").mkdir()
        # One load generator is one address: lift the per-sender and per-address
        # limits that would otherwise answer most of this traffic with 429.
        unlimited = {"FINASSIST_RATE_LIMIT_PER_MIN": "1000000"}
        with running_servers(folder / "finassist", extra_env=unlimited) as servers:
            scripts = [
                (CONVERSATIONS[lang], token_for(CUSTOMERS[lang]))
                for lang in ("zh", "en")
            ]
            finassist = asyncio.run(
                load(
                    "FinAssist", servers.rasa_url, scripts, args.customers, args.seconds
                )
            )
            finassist.peak_rss_mb = peak_rss_mb(list((servers.pids or {}).values()))
            runs.append(finassist)
        url, process = bare_bot(folder)
        try:
            bare = asyncio.run(
                load(
                    "bare rasa init bot",
                    url,
                    [(BARE_CONVERSATION, None)],
                    args.customers,
                    args.seconds,
                )
            )
            bare.peak_rss_mb = peak_rss_mb([process.pid])
            runs.append(bare)
        finally:
            process.terminate()
            process.wait(timeout=30)
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
