"""The signed JSON socket.io manager (CVE-2025-61765): codec, checks, real Redis."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import pickle
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from socketio import AsyncRedisManager, AsyncServer
from socketio.asyncio_pubsub_manager import AsyncPubSubManager

from addons.socketio_manager import (
    FRAME_PREFIX,
    FrameRejected,
    MessageSealer,
    SignedRedisManager,
    decode_value,
    derive_key,
    encode_value,
    refuse_binary_packets,
)

KEY = derive_key("a-secret-all-replicas-share-0123456789")
OTHER_KEY = derive_key("another-deployments-secret-0123456789ab")
REDIS_URL = os.environ.get("SOCKETIO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
NAMESPACE = "/"


# --- the codec and the checks, no Redis -------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None,
        "你好 hello",
        0,
        -3,
        1.5,
        True,
        [],
        {},
        [1, [2, "x"]],
        ("several", "arguments"),
        (),
        b"\x00\x80\xffbinary",
        bytearray(b"abc"),
        {"text": "hi", "buttons": [{"title": "是", "payload": "/affirm"}]},
        {"attachment": b"\x89PNG", "nested": {"parts": (b"a", [b"b"])}},
        {"$bytes": "not a tag, a customer's key"},
        {"$tuple": [1]},
        {"$other": 1},
        {"$a": 1, "$b": 2},
        ("room", "/", 7),
    ],
)
def test_codec_round_trip(value: Any) -> None:
    encoded = encode_value(value)
    wire = json.loads(json.dumps(encoded))
    expected = bytes(value) if isinstance(value, bytearray) else value
    assert decode_value(wire) == expected
    assert type(decode_value(wire)) is type(expected)


def test_codec_keys_become_what_json_would_send() -> None:
    assert decode_value(encode_value({1: "a", None: "b", False: "c"})) == {
        "1": "a",
        "null": "b",
        "false": "c",
    }


@pytest.mark.parametrize("value", [object(), {1, 2}, {(1, 2): "tuple key"}])
def test_codec_refuses_what_json_cannot_carry(value: Any) -> None:
    with pytest.raises(TypeError):
        encode_value(value)


@pytest.mark.parametrize(
    "wire",
    [
        {"$bytes": 5},
        {"$bytes": "not base64!"},
        {"$tuple": "x"},
        {"$dict": []},
        {"$unknown": 1},
        [{"$nope": None}],
    ],
)
def test_codec_refuses_malformed_tags(wire: Any) -> None:
    with pytest.raises(ValueError):
        decode_value(wire)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sealer(key: bytes = KEY, channel: str = "c", clock: Clock | None = None, **kw):
    return MessageSealer(key, channel, clock=clock or Clock(), **kw)


EMIT = {
    "method": "emit",
    "event": "bot_uttered",
    "data": {"text": "您的余额是 ¥1,234.00"},
    "namespace": "/",
    "room": "session-1",
    "skip_sid": None,
    "callback": None,
    "host_id": "abc",
}


def reason(opener: MessageSealer, frame: Any) -> str:
    with pytest.raises(FrameRejected) as rejected:
        opener.open(frame)
    return rejected.value.reason


def test_sealed_frame_opens_on_another_process_with_the_same_key() -> None:
    clock = Clock()
    frame = sealer(clock=clock).seal(EMIT)
    assert frame.startswith(FRAME_PREFIX)
    assert sealer(clock=clock).open(frame) == EMIT


def test_key_is_required_and_long() -> None:
    with pytest.raises(ValueError):
        MessageSealer(b"short", "c")
    with pytest.raises(ValueError):
        derive_key("short secret")
    assert derive_key("x" * 32) != derive_key("y" * 32)
    assert "x" * 32 not in repr(sealer())


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pickle.dumps({"method": "emit"}), "pickle payload"),
        (json.dumps(EMIT).encode(), "unsigned"),
        ("plain text", "unsigned"),
        (12, "not bytes"),
        (FRAME_PREFIX + b"short", "malformed frame"),
    ],
)
def test_frames_that_are_not_ours_are_rejected(frame: Any, expected: str) -> None:
    assert reason(sealer(), frame) == expected


def test_tampered_body_or_signature_is_rejected() -> None:
    frame = sealer().seal(EMIT)
    body_at = frame.index(b".", len(FRAME_PREFIX)) + 1
    tampered_body = frame[:body_at] + frame[body_at:].replace(
        b"session-1", b"session-2"
    )
    assert reason(sealer(), tampered_body) == "bad signature"
    signature = frame[len(FRAME_PREFIX) : body_at - 1]
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    tampered_sig = FRAME_PREFIX + flipped + frame[body_at - 1 :]
    assert reason(sealer(), tampered_sig) == "bad signature"


def test_other_key_or_other_channel_is_rejected() -> None:
    frame = sealer().seal(EMIT)
    assert reason(sealer(key=OTHER_KEY), frame) == "bad signature"
    assert reason(sealer(channel="other"), frame) == "bad signature"


def test_oversized_frames_are_neither_sent_nor_read() -> None:
    small = sealer(max_bytes=512)
    with pytest.raises(ValueError):
        small.seal({**EMIT, "data": "x" * 600})
    frame = sealer().seal({**EMIT, "data": "x" * 600})
    assert reason(small, frame) == "oversized"
    assert reason(small, b"\x80" + b"x" * 600) == "oversized"


def test_signed_but_malformed_content_is_rejected() -> None:
    signer = sealer()

    def signed(body: bytes) -> bytes:
        return FRAME_PREFIX + signer._sign(body) + b"." + body

    now = Clock().now
    assert reason(signer, signed(b"\x80\x04not json")) == "not JSON"
    assert reason(signer, signed(b"[1]")) == "unknown envelope"
    envelope = {"v": 1, "ts": now, "nonce": "0" * 32}
    cases = {
        "unknown method": {**envelope, "msg": {"method": "exec"}},
        "malformed message": {**envelope, "msg": {"$bytes": 1}},
        "no timestamp": {**envelope, "ts": "now", "msg": EMIT},
        "no nonce": {**envelope, "nonce": 1, "msg": EMIT},
    }
    for expected, value in cases.items():
        assert reason(signer, signed(json.dumps(value).encode())) == expected


def test_stale_future_and_replayed_frames_are_rejected() -> None:
    clock = Clock()
    sender, receiver = sealer(clock=clock), sealer(clock=clock)
    frame = sender.seal(EMIT)
    assert receiver.open(frame) == EMIT
    assert reason(receiver, frame) == "replayed"
    clock.now += 61
    assert reason(sealer(clock=clock), frame) == "stale"
    future = sealer(clock=Clock(clock.now + 120)).seal(EMIT)
    assert reason(sealer(clock=clock), future) == "stale"


async def test_binary_packets_disconnect_the_client() -> None:
    sio = AsyncServer(async_mode="asgi")
    seen: list[tuple[str, Any]] = []
    dropped: list[str] = []

    async def original(eio_sid: str, data: Any) -> None:
        seen.append((eio_sid, data))

    async def disconnect(eio_sid: str) -> None:
        dropped.append(eio_sid)

    sio._handle_eio_message = original  # type: ignore[method-assign]
    sio.eio.disconnect = disconnect  # type: ignore[method-assign]
    refuse_binary_packets(sio)
    handler = sio.eio.handlers["message"]
    await handler("a", '2["user_uttered",{"message":"hi"}]')
    await handler("b", '51-["user_uttered",{"_placeholder":true,"num":0}]')
    await handler("c", '61-/chat,7[{"_placeholder":true,"num":0}]')
    await handler("d", b"\x00" * 1000)
    assert seen == [("a", '2["user_uttered",{"message":"hi"}]')]
    assert dropped == ["b", "c", "d"]
    assert sio._binary_packet == {}


async def test_stock_server_buffers_announced_attachments() -> None:
    """What the patch prevents: 5.8.0 keeps a binary packet waiting for 10**6
    attachments (each one then buffered until that many arrived)."""
    sio = AsyncServer(async_mode="asgi")
    await sio.eio.handlers["message"]("x", '51000000-["e",{"_placeholder":true}]')
    assert sio._binary_packet["x"].attachment_count == 1_000_000


# --- two managers ("replicas") over a real Redis -----------------------------------


class Recorder:
    """Stands in for the engine.io side of a server: records what reaches clients."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, str, Any, str, Any]] = []
        self.disconnected: list[tuple[str, str]] = []


def make_replica(manager: AsyncPubSubManager) -> tuple[AsyncServer, Recorder]:
    sio = AsyncServer(async_mode="asgi", client_manager=manager)
    recorder = Recorder()

    async def emit_internal(eio_sid, event, data, namespace=None, id=None):
        recorder.emitted.append((eio_sid, event, data, namespace, id))

    async def disconnect(sid, namespace=None, ignore_queue=False):
        recorder.disconnected.append((sid, namespace))
        await manager.disconnect(sid, namespace, ignore_queue=True)

    sio._emit_internal = emit_internal  # type: ignore[method-assign]
    sio.disconnect = disconnect  # type: ignore[method-assign]
    return sio, recorder


async def redis_or_skip() -> aioredis.Redis:
    client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:  # any failure to answer: no Redis here
        await client.close()
        pytest.skip(f"no Redis answering at {REDIS_URL}: {exc}")
    return client


async def wait_for(predicate, seconds: float = 5.0) -> bool:
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


async def stop(*managers: AsyncPubSubManager) -> None:
    for manager in managers:
        thread = getattr(manager, "thread", None)
        if thread is not None:
            thread.cancel()
            await asyncio.gather(thread, return_exceptions=True)
        await manager.pubsub.close()
        await manager.redis.close()


async def wait_subscribers(client: aioredis.Redis, channel: str, n: int) -> None:
    for _ in range(250):
        counts = await client.pubsub_numsub(channel)
        if counts and int(counts[0][1]) >= n:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{channel}: fewer than {n} subscribers")


@pytest.fixture
async def redis_client():
    client = await redis_or_skip()
    yield client
    await client.close()


@pytest.fixture
def channel() -> str:
    return f"finassist-socketio-test-{uuid.uuid4().hex}"


@pytest.fixture
async def replicas(redis_client, channel):
    managers = [
        SignedRedisManager(REDIS_URL, key=KEY, channel=channel) for _ in range(2)
    ]
    pairs = [make_replica(m) for m in managers]
    for manager in managers:
        manager.initialize()
    await wait_subscribers(redis_client, channel, 2)
    yield managers, [recorder for _sio, recorder in pairs]
    await stop(*managers)


def connect_client(manager: AsyncPubSubManager, eio_sid: str, room: str) -> str:
    sid = manager.connect(eio_sid, NAMESPACE)
    manager.enter_room(sid, NAMESPACE, room, eio_sid=eio_sid)
    return sid


@pytest.mark.integration
@pytest.mark.parametrize(
    "data",
    [
        {
            "text": "您好，我是小助手",
            "buttons": [{"title": "是", "payload": "/affirm"}],
        },
        ("two", {"arguments": [1, 2.5, None, True]}),
        {"image": b"\x89PNG\r\n\x1a\n\x00binary", "parts": [b"\x00", "t"]},
        "plain string",
    ],
)
async def test_emit_reaches_the_client_on_the_other_replica(replicas, data) -> None:
    (a, b), (rec_a, rec_b) = replicas
    connect_client(b, "eio-b", "session-1")
    await a.emit("bot_uttered", data, namespace=NAMESPACE, room="session-1")
    assert await wait_for(lambda: rec_b.emitted)
    eio_sid, event, received, namespace, ack = rec_b.emitted[0]
    assert (eio_sid, event, namespace, ack) == ("eio-b", "bot_uttered", "/", None)
    assert received == data and type(received) is type(data)
    assert rec_a.emitted == []
    assert a.dropped == b.dropped == {}


@pytest.mark.integration
async def test_emit_skip_sid_and_several_rooms(replicas) -> None:
    (a, b), (_rec_a, rec_b) = replicas
    skipped = connect_client(b, "eio-1", "room-1")
    connect_client(b, "eio-2", "room-2")
    await a.emit(
        "notice",
        {"n": 1},
        namespace=NAMESPACE,
        room=["room-1", "room-2"],
        skip_sid=[skipped],
    )
    assert await wait_for(lambda: rec_b.emitted)
    await asyncio.sleep(0.2)
    assert [e[0] for e in rec_b.emitted] == ["eio-2"]


@pytest.mark.integration
async def test_callback_returns_to_the_emitting_replica(replicas) -> None:
    (a, b), (_rec_a, rec_b) = replicas
    sid = connect_client(b, "eio-b", "session-1")
    answers: list[tuple[Any, ...]] = []

    def on_ack(*args: Any) -> None:
        answers.append(args)

    await a.emit(
        "confirm",
        {"q": "ok?"},
        namespace=NAMESPACE,
        room="session-1",
        callback=on_ack,
    )
    assert await wait_for(lambda: rec_b.emitted)
    ack_id = rec_b.emitted[0][4]
    assert ack_id is not None
    # The client on B acknowledges with two arguments, one binary.
    await b.trigger_callback(sid, ack_id, ("yes", b"\x01\x02"))
    assert await wait_for(lambda: answers)
    assert answers == [("yes", b"\x01\x02")]


@pytest.mark.integration
async def test_disconnect_and_close_room_reach_the_other_replica(replicas) -> None:
    (a, b), (_rec_a, rec_b) = replicas
    sid = connect_client(b, "eio-b", "session-1")
    other = connect_client(b, "eio-c", "session-2")
    await a.close_room("session-2", namespace=NAMESPACE)
    assert await wait_for(lambda: "session-2" not in b.rooms[NAMESPACE])
    assert b.is_connected(other, NAMESPACE)
    await a.disconnect(sid, NAMESPACE)
    assert await wait_for(lambda: rec_b.disconnected)
    assert rec_b.disconnected == [(sid, NAMESPACE)]
    assert not b.is_connected(sid, NAMESPACE)


class Marker:
    """A pickle whose loading creates a file: what an attacker would publish."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def attack_payloads(marker: Path) -> dict[str, bytes]:
    signed_elsewhere = MessageSealer(OTHER_KEY, "x").seal(
        {"method": "disconnect", "sid": "s", "namespace": "/"}
    )
    honest = MessageSealer(KEY, "x").seal({"method": "close_room", "room": "r"})
    body_at = honest.index(b".", len(FRAME_PREFIX)) + 1
    return {
        "pickle payload": pickle.dumps(Marker(marker)),
        "unsigned": json.dumps(
            {
                "method": "emit",
                "event": "bot_uttered",
                "data": {"text": "phish"},
                "namespace": "/",
                "room": "session-1",
            }
        ).encode(),
        "bad signature": signed_elsewhere,
        "tampered": honest[:body_at] + honest[body_at:].replace(b'"r"', b'"s"'),
        "oversized": FRAME_PREFIX + b"x" * (2 * 1024 * 1024),
    }


@pytest.mark.integration
async def test_attacker_frames_are_dropped_and_never_unpickled(
    redis_client, channel, tmp_path
) -> None:
    marker = tmp_path / "pwned"
    manager = SignedRedisManager(REDIS_URL, key=KEY, channel=channel)
    _sio, recorder = make_replica(manager)
    connect_client(manager, "eio-b", "session-1")
    manager.initialize()
    try:
        await wait_subscribers(redis_client, channel, 1)
        payloads = attack_payloads(marker)
        for payload in payloads.values():
            await redis_client.publish(channel, payload)
        assert await wait_for(lambda: sum(manager.dropped.values()) == len(payloads))
        assert not marker.exists(), "the pickle payload was executed"
        assert recorder.emitted == [] and recorder.disconnected == []
        assert manager.dropped == {
            "pickle payload": 1,
            "unsigned": 1,
            "bad signature": 2,
            "oversized": 1,
        }
        # The channel still works for honest frames afterwards.
        await manager.emit(
            "bot_uttered", {"text": "ok"}, namespace="/", room="session-1"
        )
        assert await wait_for(lambda: recorder.emitted)
    finally:
        await stop(manager)


@pytest.mark.integration
async def test_stock_manager_runs_the_attacker_pickle(
    redis_client, channel, tmp_path
) -> None:
    """The same attack against python-socketio's own manager: the marker appears.

    Shows that the test above would catch the vulnerability; skipped once the
    installed python-socketio no longer unpickles (5.14+), when this module can go.
    """
    if "pickle.loads" not in inspect.getsource(AsyncPubSubManager._thread):
        pytest.skip("this python-socketio no longer unpickles pub/sub messages")
    marker = tmp_path / "pwned"
    manager = AsyncRedisManager(REDIS_URL, channel=channel)
    make_replica(manager)
    manager.initialize()
    try:
        await wait_subscribers(redis_client, channel, 1)
        await redis_client.publish(channel, pickle.dumps(Marker(marker)))
        assert await wait_for(marker.exists), "stock manager did not unpickle"
    finally:
        await stop(manager)
