"""1,000+ generated bad inputs against the running servers, on both channels.

The corpus (tests/corpus.py) holds every class of input a client can send: unicode of
many scripts, control and invisible characters, lone surrogates and invalid UTF-8,
truncated JSON, wrong JSON types, oversized messages, bodies and metadata, deep
nesting, bad sender ids, command prefixes, forged socket.io sessions and unknown
events. While it runs, a probe customer asks for their balance over and over.

Invariants: no 5xx and no crash; every refusal is a JSON error (REST) or a notice to
that socket alone; every valid message gets a reply and is stored, as the channel
cleaned it (masked); the probe's every turn stays under a second.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from actions.channel_guard import clean_text
from actions.pii import mask_pii
from tests.conftest import token_for
from tests.corpus import Item, corpus
from tests.integration.servers import (
    MODEL,
    RASA_API_TOKEN,
    Servers,
    WebCustomer,
    running_servers,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
]
REST_ITEMS, SOCKET_ITEMS = 900, 300
PROBE_EVERY_S = 0.25
PROBE_LIMIT_S = 1.0


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    # The corpus comes from one address at full speed; limits are tested elsewhere.
    env = {"FINASSIST_RATE_LIMIT_PER_MIN": "1000000"}
    with running_servers(tmp_path_factory.mktemp("corpus"), extra_env=env) as servers:
        yield servers


class Probe(threading.Thread):
    """A customer asking for their balance the whole time; each turn is timed."""

    def __init__(self, rasa_url: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{rasa_url}/webhooks/rest/webhook"
        self.token = token_for("C001", minutes=60)
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                reply = client.post(
                    self.url,
                    json={
                        "sender": f"probe-{n // 15}",  # a new conversation now and then
                        "message": "查一下余额",
                        "metadata": {"auth_token": self.token},
                    },
                )
                self.latencies.append(time.monotonic() - started)
                if reply.status_code != 200 or "28,650.32" not in reply.text:
                    self.failures.append(f"{reply.status_code} {reply.text[:200]}")
                self.stop.wait(PROBE_EVERY_S)


def send_rest(url: str, item: Item) -> tuple[Item, int, str]:
    reply = httpx.post(
        url,
        content=item.body,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    return item, reply.status_code, reply.text


# Refused socket.io messages that get an explanation (the rest are ignored).
NOTICED = {
    "forged_session",
    "huge_message",
    "anonymous_in_owned",
    "other_customer",
    "metadata_unreadable",
}


def drain(replies: queue.Queue[dict], quiet_s: float = 0.3) -> None:
    """The rest of one turn's bubbles, until the socket has been quiet a moment."""
    while True:
        try:
            replies.get(timeout=quiet_s)
        except queue.Empty:
            return


def is_paused(live: Servers, conversation: str) -> bool:
    tracker = httpx.get(
        f"{live.rasa_url}/conversations/{conversation}/tracker",
        params={"token": RASA_API_TOKEN},
        timeout=10,
    ).json()
    return bool(tracker.get("paused"))


def wait_stored(live: Servers, conversation: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        tracker = httpx.get(
            f"{live.rasa_url}/conversations/{conversation}/tracker",
            params={"token": RASA_API_TOKEN},
            timeout=10,
        ).json()
        if sum(1 for e in tracker["events"] if e["event"] == "user") >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"message {count} of {conversation} was not stored")


def stored_user_texts(tracker_db_url: str) -> dict[str, list[str]]:
    import json

    engine = sa.create_engine(tracker_db_url)
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for sender, data in conn.execute(
            sa.text("SELECT sender_id, data FROM events WHERE type_name = 'user'")
        ):
            found.setdefault(sender, []).append(json.loads(data).get("text"))
    engine.dispose()
    return found


def expected_text(item: Item) -> str:
    cleaned = clean_text(item.text)
    assert cleaned is not None
    return mask_pii(cleaned.strip())


def test_the_corpus_breaks_nothing_and_loses_nothing(live: Servers) -> None:
    items = corpus(
        token_for("C003", minutes=60),
        REST_ITEMS,
        SOCKET_ITEMS,
        other_token=token_for("C002", minutes=60),
    )
    assert len(items) >= 1000
    rest = [i for i in items if i.channel == "rest"]
    sockets = [i for i in items if i.channel == "socketio"]
    probe = Probe(live.rasa_url)
    # Warm up first (jieba's dictionary, the first TF calls): the probe measures
    # the service under the corpus, not the server's start.
    for text in ("查一下余额", "hello", "给张伟转五千", "算了"):
        httpx.post(
            f"{live.rasa_url}/webhooks/rest/webhook",
            json={
                "sender": "warm-up",
                "message": text,
                "metadata": {"auth_token": probe.token},
            },
            timeout=60,
        )
    probe.start()
    started = time.monotonic()
    url = f"{live.rasa_url}/webhooks/rest/webhook"
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda i: send_rest(url, i), rest))
        customer, stranger = WebCustomer(live.rasa_url), WebCustomer(live.rasa_url)
        valid_socket, held = 0, False
        for item in sockets:
            target = stranger if item.event != "user_uttered" else customer
            data = item.data
            if isinstance(data, dict) and item.event == "user_uttered":
                data = {"session_id": customer.session_id, **data}
            target.sio.emit(item.event, data)
            if item.valid:
                valid_socket += 1
            # One item at a time: every valid message is answered (unless an agent
            # holds the conversation: a generated message may escalate it), every
            # refused one is explained to that socket; the rest are ignored.
            if item.valid and not held:
                try:
                    customer.replies.get(timeout=20)
                except queue.Empty:
                    held = is_paused(live, customer.session_id)
                    assert held, f"no reply to {item.kind}: {item.text!r}"
            elif item.valid:  # held: no reply, but the message must still be stored
                wait_stored(live, customer.session_id, valid_socket)
            elif item.kind in NOTICED and not held:
                notice = customer.replies.get(timeout=20)
                assert notice.get("text"), (item.kind, notice)
            drain(customer.replies)
        time.sleep(2)  # the last replies and the stranger's notices arrive
        customer.close()
        stranger.close()
    finally:
        probe.stop.set()
        probe.join(30)
    elapsed = time.monotonic() - started

    codes = [code for _, code, _ in results]
    print(
        f"\ncorpus: {len(items)} inputs ({len(rest)} REST, {len(sockets)} socket.io) "
        f"in {elapsed:.0f} s; REST statuses "
        f"{ {c: codes.count(c) for c in sorted(set(codes))} }; probe "
        f"{len(probe.latencies)} turns, median "
        f"{statistics.median(probe.latencies) * 1000:.0f} ms, max "
        f"{max(probe.latencies) * 1000:.0f} ms; slowest at "
        f"{sorted(((round(v, 2), i) for i, v in enumerate(probe.latencies)))[-5:]}"
    )
    # No 5xx, no crash, a clear JSON error for every refusal.
    assert all(code < 500 for code in codes), [c for c in codes if c >= 500]
    for item, code, body in results:
        if item.valid:
            assert code == 200 and body.startswith("[{"), (item.kind, code, body)
        else:
            assert 400 <= code < 500, (item.kind, code, body[:200])
            assert '"error"' in body, (item.kind, body[:200])
    for name in ("rasa", "actions"):
        assert live.pids and Path(f"/proc/{live.pids[name]}").exists(), name
    # The probe customer was served throughout, fast.
    assert not probe.failures, probe.failures[:3]
    assert len(probe.latencies) > 20
    assert max(probe.latencies) < PROBE_LIMIT_S
    # Every valid message is stored (as cleaned and masked), nothing else.
    stored = stored_user_texts(live.tracker_db_url)
    for item, _, _ in results:
        sender = (
            item.body.split(b'"sender": "', 1)[-1]
            .split(b'"', 1)[0]
            .decode("utf-8", "replace")
        )
        texts = stored.get(sender, [])
        if item.valid:
            assert texts == [expected_text(item)], (item.kind, texts)
        else:
            assert texts == [], (item.kind, texts)
    socket_texts = stored.get(customer.session_id, [])
    assert socket_texts == [expected_text(i) for i in sockets if i.valid]
    assert len(socket_texts) == valid_socket
    assert not [s for s in stored if s.startswith("other-session")]
