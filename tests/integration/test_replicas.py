"""Two Rasa replicas with the production configuration, and one of them killed.

Both replicas run `endpoints.production.yml`: the masking tracker store on PostgreSQL,
the Redis lock store and the masking RabbitMQ event broker, with one action server.
One conversation's messages alternate between the replicas and stay one consistent
conversation (slots carried across replicas, every turn stored once). Then one replica
is killed with SIGKILL in the middle of a run of messages: no stored event is lost and
the other replica carries the conversation on. The events that reached RabbitMQ are
masked too.

Needs the local PostgreSQL, Redis and RabbitMQ (as in CI) and a trained model; skipped
with a reason otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import token_for
from tests.integration.cluster import RATE_LIMIT, Cluster, services_up
from tests.integration.servers import (
    MODEL,
    RASA_API_TOKEN,
)

CARD = "6222021234567890128"


pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train`"),
    pytest.mark.skipif(
        not services_up(), reason="needs local PostgreSQL, Redis and RabbitMQ"
    ),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with ExitStack() as stack:
        yield Cluster(tmp_path_factory.mktemp("replicas"), stack)


def user_texts(events: list[dict]) -> list[str]:
    return [e["text"] for e in events if e.get("event") == "user"]


def test_one_conversation_alternating_between_replicas_stays_consistent(
    cluster: Cluster,
) -> None:
    sender = "replica-alternating"
    turns = [
        ("a", "房贷利率多少"),
        ("b", "我是首套房"),  # replica b knows the topic replica a set
        ("a", "那二套房呢"),  # and a knows the home status b set
        ("b", "贷30年呢"),
        ("a", f"我卡号{CARD}，查一下余额"),
    ]
    replies = [cluster.say(replica, sender, message) for replica, message in turns]
    assert "首套房还是二套房" in replies[0]
    assert "首套房商业贷款年利率" in replies[1]
    assert "二套房商业贷款年利率" in replies[2]
    assert "30 年" in replies[3] and "%" in replies[3]
    assert "28,650.32" in replies[4]
    events = cluster.stored(sender)
    assert len(user_texts(events)) == len(turns)  # every turn stored exactly once
    stored = json.dumps(events, ensure_ascii=False)
    assert CARD not in stored and "[CARD ****0128]" in stored
    tracker = httpx.get(
        f"{cluster.replicas['b'][0]}/conversations/{sender}/tracker",
        params={"token": RASA_API_TOKEN},
        timeout=10,
    ).json()
    assert tracker["slots"]["home_status"] == "second"
    assert tracker["slots"]["loan_term"] == "30"


class SocketIOWebSocket:
    """The few Socket.IO (v5, Engine.IO v4) frames a web page exchanges, over one
    WebSocket; python-socketio's own client needs a newer aiohttp than Rasa pins."""

    def __init__(self, url: str) -> None:
        self.url = (
            url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        )

    async def __aenter__(self) -> SocketIOWebSocket:
        import websockets  # Sanic's own dependency

        self.ws = await websockets.connect(self.url)
        assert (await self.ws.recv()).startswith("0")  # Engine.IO open
        await self.ws.send("40")  # Socket.IO connect, default namespace
        assert (await self.ws.recv()).startswith("40")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.ws.close()

    async def emit(self, event: str, data: dict) -> None:
        await self.ws.send("42" + json.dumps([event, data]))

    async def session(self) -> str:
        """Ask for a conversation id; the server issues it (session_confirm)."""
        await self.emit("session_request", {"session_id": None})
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 60)
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("42"):
                event, data = json.loads(frame[2:])[:2]
                if event == "session_confirm":
                    return data

    async def next_bot_text(self) -> str:
        while True:
            frame = await asyncio.wait_for(self.ws.recv(), 60)
            if frame == "2":  # Engine.IO ping
                await self.ws.send("3")
            elif frame.startswith("42"):
                event, data = json.loads(frame[2:])[:2]
                if event == "bot_uttered" and data.get("text"):
                    return data["text"]


async def test_an_agent_reply_reaches_a_web_customer_through_the_other_replica(
    cluster: Cluster,
) -> None:
    """The customer's socket.io connection is held by a worker of replica a; the desk
    sends the agent's reply through replica b (any worker). Redis carries it over."""
    url_a, url_b = cluster.replicas["a"][0], cluster.replicas["b"][0]
    async with SocketIOWebSocket(url_a) as page:
        session = await page.session()
        await page.emit(
            "user_uttered",
            {
                "message": "你好",
                "session_id": session,
                "metadata": {"auth_token": token_for("C001")},
            },
        )
        assert "李明" in await page.next_bot_text()  # answered by replica a
        async with httpx.AsyncClient(timeout=30) as http:
            for n in range(4):  # several posts: b's two workers both get some
                reply = await http.post(
                    f"{url_b}/conversations/{session}/tracker/events",
                    params={
                        "token": RASA_API_TOKEN,
                        "execute_side_effects": "true",
                        "output_channel": "latest",
                    },
                    json={"event": "bot", "text": f"您好，我是客服小王 {n}"},
                )
                assert reply.status_code == 200, reply.text
                assert await page.next_bot_text() == f"您好，我是客服小王 {n}"


def test_a_senders_rate_limit_holds_across_replicas(cluster: Cluster) -> None:
    """Alternating replicas (and their workers) does not multiply the budget."""
    sender = f"replica-flood-{uuid.uuid4().hex[:8]}"
    codes = []
    for i in range(RATE_LIMIT + 4):
        url, _ = cluster.replicas["a" if i % 2 else "b"]
        reply = httpx.post(
            f"{url}/webhooks/rest/webhook",
            json={"sender": sender, "message": "你好"},
            timeout=60,
        )
        codes.append(reply.status_code)
    assert codes[:RATE_LIMIT] == [200] * RATE_LIMIT
    assert set(codes[RATE_LIMIT:]) == {429}


def test_killing_a_replica_mid_run_loses_no_stored_event(cluster: Cluster) -> None:
    sender = "replica-kill"
    messages = [f"查一下余额 {i}" for i in range(12)]
    url_a, process_a = cluster.replicas["a"]

    def send(i: int) -> tuple[int, bool]:
        replica = "a" if i % 2 == 0 else "b"
        try:
            cluster.say(replica, sender, messages[i])
            return i, True
        except httpx.HTTPError:
            return i, False  # the killed replica drops its in-flight request

    answered: dict[int, bool] = {}
    for i in range(6):  # the first half, in order
        answered.update([send(i)])
    os.killpg(process_a.pid, signal.SIGKILL)  # the replica and its workers, mid-run
    process_a.wait(timeout=10)
    with pytest.raises(httpx.HTTPError):  # replica a is really gone
        httpx.get(f"{url_a}/", timeout=5)
    with ThreadPoolExecutor(max_workers=1) as pool:
        answered.update(pool.map(send, range(6, 12)))

    stored = user_texts(cluster.stored(sender))
    # Nothing that was answered is missing, nothing is stored twice, order is kept.
    assert all(messages[i] in stored for i, ok in answered.items() if ok)
    assert len(stored) == len(set(stored))
    assert stored == sorted(stored, key=lambda t: int(t.split()[-1]))
    assert all(answered[i] for i in range(6))
    assert all(answered[i] for i in range(7, 12, 2))  # replica b carried on
    # Replica b answers and the conversation is whole after the kill.
    assert "28,650.32" in cluster.say("b", sender, "查一下余额")
    assert len(user_texts(cluster.stored(sender))) == len(stored) + 1


async def test_the_event_stream_is_masked(cluster: Cluster) -> None:
    import aio_pika  # what Rasa's PikaEventBroker itself uses

    connection = await aio_pika.connect_robust("amqp://guest:guest@127.0.0.1:5672/")
    bodies = []
    try:
        channel = await connection.channel()
        queue = await channel.get_queue(cluster.queue)
        while True:
            message = await queue.get(no_ack=True, fail=False, timeout=5)
            if message is None:
                break
            bodies.append(message.body.decode("utf-8"))
    finally:
        await connection.close()
    streamed = "\n".join(bodies)
    assert "replica-alternating" in streamed  # the conversation's events arrived
    assert CARD not in streamed and "[CARD ****0128]" in streamed
    # Every message carried a login token; none reached the stream.
    assert not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", streamed)
    assert '"auth_token": "[REDACTED]"' in streamed
