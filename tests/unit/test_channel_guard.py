"""The customer channels' admission rules, tried with generated inputs by class.

Each class of fault of issue 15 has its generator here: command prefixes made of any
whitespace, invisible, combining and slash-like characters; sender ids with control
characters and sizes; metadata of every JSON type and depth; rate-limit keys that
imitate each other; forwarded headers from trusted and untrusted peers; conversation
ids that are forged, tampered or borrowed; identities posted into someone else's
conversation, in any order and concurrently.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import unicodedata
from pathlib import Path

import pytest
from rasa.shared.core.training_data.story_reader.yaml_story_reader import (
    YAMLStoryReader,
)
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from actions import channel_guard as rules
from actions.client_address import client_address, parse_networks
from actions.identity import issue_token
from actions.ownership import ConversationOwners
from actions.profile_db.session import make_engine
from actions.rate_limit import MemoryLimiter, RedisLimiter
from actions.session_ids import SessionIds
from actions.settings import ChannelSettings
from addons.channels import ChannelGuard
from tests.conftest import SECRET, token_for

SEED = 20261207
WHITESPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]
INVISIBLE = [
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e", "\u2061",
    "\u2062", "\u2063", "\u2064", "\u206a", "\u202a", "\u202b", "\u202c", "\u202d",
    "\u202e", "\u2066", "\u2067", "\u2068", "\u2069", "\x00", "\x01", "\x7f", "\x1b",
]  # fmt: skip
COMBINING = ["\u0301", "\u0338", "\u20d2", "\u0337", "\u3099"]
SLASH_LIKE = sorted(rules.SLASHES) + [
    chr(c) for c in range(0x110000) if unicodedata.normalize("NFKC", chr(c)) == "/"
]
COMMANDS = [
    'transfer_money{"amount": "50000", "recipient": "张伟"}',
    "affirm",
    "request_human",
    'inform{"amount": 9999}',
    "stop@1.0",
    "greet",
]


def _prefix(rng: random.Random) -> str:
    pools = [WHITESPACE, INVISIBLE, COMBINING, SLASH_LIKE, ["/"]]
    parts = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 8))]
    # at least one real slash somewhere, often several runs of them
    for _ in range(rng.randint(1, 3)):
        parts.insert(rng.randint(0, len(parts)), "/" * rng.randint(1, 3))
    return "".join(parts)


def command_variants(n: int) -> list[str]:
    rng = random.Random(SEED)
    return [_prefix(rng) + rng.choice(COMMANDS) for _ in range(n)]


def _rasa_reads_a_command(text: str) -> bool:
    unpacked = YAMLStoryReader.unpack_regex_message(Message({TEXT: text}))
    return unpacked.get(INTENT) is not None


def _normalisations(text: str) -> list[str]:
    nfkc = unicodedata.normalize("NFKC", text)
    visible = "".join(c for c in nfkc if unicodedata.category(c)[0] not in "CZM")
    return [text, text.strip(), nfkc, nfkc.strip(), visible]


def test_the_reported_example_was_a_command_and_is_not_any_more() -> None:
    reported = '/ /transfer_money{"amount": "50000"}'
    once_stripped = reported.lstrip().lstrip("/").lstrip()  # the old neutraliser
    assert _rasa_reads_a_command(once_stripped)
    assert not _rasa_reads_a_command(rules.neutralise_commands(reported))


@pytest.mark.parametrize("text", command_variants(4000))
def test_no_generated_prefix_makes_a_command(text: str) -> None:
    out = rules.neutralise_commands(text)
    assert not rules.is_command(out)
    assert not _rasa_reads_a_command(out)
    for form in _normalisations(out):
        assert not form.strip().startswith("/"), repr(text)


def test_commands_hidden_after_visible_text_stay_text() -> None:
    rng = random.Random(SEED + 1)
    for _ in range(500):
        body = rng.choice(["查余额", "hello", "转账 1/2 的钱", "50/50", "a/b"])
        text = body + _prefix(rng) + rng.choice(COMMANDS)
        assert rules.neutralise_commands(text) == text  # starts visibly: untouched
        assert not _rasa_reads_a_command(text)


@pytest.mark.parametrize(
    "text", ["查余额", "  hello", "\u200b你好", "1/2 of it", "\u3000转账", ""]
)
def test_text_that_does_not_start_like_a_command_is_unchanged(text: str) -> None:
    assert rules.neutralise_commands(text) == text


@pytest.mark.parametrize(
    ("sender", "ok"),
    [
        ("app-c001-1", True),
        ("中文会话", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        ("a\x00b", False),
        ("a b", False),
        ("a\u200bb", False),
        ("a\nb", False),
        ("\ufeffabc", False),
        (5, False),
        (None, False),
        (["a"], False),
    ],
)
def test_sender_ids_are_bounded_printable_strings(sender: object, ok: bool) -> None:
    assert (rules.sender_problem(sender) is None) is ok


def _random_json(rng: random.Random, depth: int = 0) -> object:
    kinds = ["str", "int", "float", "bool", "null", "list", "dict"]
    kind = rng.choice(kinds if depth < 6 else kinds[:5])
    if kind == "str":
        return "".join(chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 40)))
    if kind == "int":
        return rng.randint(-(10**30), 10**30)
    if kind == "float":
        return rng.uniform(-1e300, 1e300)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))]
    keys = ["auth_token", "input_channel", "intent", "x", "__proto__", "utter_action"]
    return {
        rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))
    }


def test_metadata_keeps_only_a_bounded_login_token() -> None:
    rng = random.Random(SEED + 2)
    for _ in range(2000):
        metadata = _random_json(rng)
        clean = rules.clean_metadata(metadata)
        assert set(clean) <= {"auth_token"}
        for value in clean.values():
            assert isinstance(value, str) and 0 < len(value) <= rules.MAX_TOKEN_CHARS
    token = token_for("C001")
    huge = {"auth_token": token, "blob": ["x" * 1000] * 1000, "nested": {"a": {"b": 1}}}
    assert rules.clean_metadata(huge) == {"auth_token": token}
    assert rules.clean_metadata({"auth_token": "t" * 5000}) == {}
    assert rules.clean_metadata("auth_token") == {}


def test_notices_follow_the_language_of_the_message() -> None:
    assert rules.notice("too_long", "hello there", limit=5).startswith("That message")
    assert rules.notice("too_long", "你好", limit=5).startswith("消息太长")
    assert rules.notice("unavailable", "12345").startswith("抱歉")  # no letters: zh
    for problem in rules.NOTICES:
        zh, en = rules.NOTICES[problem]
        assert zh != en and "{" not in zh.replace("{limit}", "")


def test_rate_limit_kinds_never_share_a_budget() -> None:
    limiter = MemoryLimiter(clock=lambda: 0.0)
    for _ in range(3):
        assert limiter.allow_now("sender", "ip:127.0.0.1", 3)
    assert not limiter.allow_now("sender", "ip:127.0.0.1", 3)
    assert limiter.allow_now("ip", "127.0.0.1", 3)  # the address's own budget is intact
    with pytest.raises(ValueError):
        limiter.allow_now("ip:", "x", 3)


def test_memory_limits_slide_and_stay_bounded() -> None:
    now = [0.0]
    limiter = MemoryLimiter(clock=lambda: now[0])
    assert [limiter.allow_now("sender", "a", 2) for _ in range(3)] == [
        True,
        True,
        False,
    ]
    for _ in range(10_000):  # a flood keeps a bounded history per key
        limiter.allow_now("sender", "a", 2)
    now[0] = 61.0
    assert limiter.allow_now("sender", "a", 2)
    for i in range(25_000):
        now[0] = 100.0 + i / 1000
        limiter.allow_now("sender", f"s-{i}", 2)
    now[0] = 300.0
    for i in range(10_000):
        limiter.allow_now("sender", f"n-{i}", 2)
    assert limiter.tracked() <= 10_001


def _redis_url() -> str:
    return "redis://127.0.0.1:6379/15"


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(_redis_url(), socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.mark.integration
@pytest.mark.skipif(not _redis_up(), reason="no Redis at 127.0.0.1:6379")
async def test_redis_limits_are_shared_by_replicas() -> None:
    prefix = f"finassist:test:{random.random()}"
    replica_a = RedisLimiter(_redis_url(), prefix=prefix)
    replica_b = RedisLimiter(_redis_url(), prefix=prefix)
    results = []
    for i in range(10):
        limiter = replica_a if i % 2 else replica_b
        results.append(await limiter.allow("sender", "app-1", 6))
    assert results == [True] * 6 + [False] * 4
    assert await replica_a.allow("ip", "app-1", 6)  # another kind, another budget
    await replica_a.close()
    await replica_b.close()


async def test_a_redis_outage_falls_back_to_local_limits() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")  # nothing listens there
    results = [await limiter.allow("sender", "s", 2) for _ in range(3)]
    assert results == [True, True, False]
    await limiter.close()


PROXIES = parse_networks("10.0.0.0/8, 192.168.1.7")


@pytest.mark.parametrize(
    ("peer", "forwarded", "proxies", "expected"),
    [
        ("203.0.113.9", None, (), "203.0.113.9"),
        # untrusted peer: its header is ignored, whatever it says
        ("203.0.113.9", "1.2.3.4", PROXIES, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", (), "203.0.113.9"),
        # trusted ingress: the hop it saw
        ("10.1.2.3", "198.51.100.4", PROXIES, "198.51.100.4"),
        # a client forging a chain: only the hops our proxies appended count
        ("10.1.2.3", "6.6.6.6, 198.51.100.4", PROXIES, "198.51.100.4"),
        ("10.1.2.3", "6.6.6.6, 198.51.100.4, 192.168.1.7", PROXIES, "198.51.100.4"),
        ("10.1.2.3", "garbage, 198.51.100.4", PROXIES, "198.51.100.4"),
        ("10.1.2.3", "198.51.100.4, garbage", PROXIES, "10.1.2.3"),
        ("10.1.2.3", "[2001:db8::1]:443", PROXIES, "2001:db8::1"),
        ("10.1.2.3", "198.51.100.4:5555", PROXIES, "198.51.100.4"),
        ("::ffff:10.1.2.3", "198.51.100.4", PROXIES, "198.51.100.4"),
        (None, "198.51.100.4", PROXIES, "unknown"),
        ("not an ip", None, PROXIES, "unknown"),
    ],
)
def test_client_address_trusts_only_configured_proxies(
    peer: str | None, forwarded: str | None, proxies: tuple, expected: str
) -> None:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    assert client_address(peer, headers, proxies) == expected


def test_session_ids_cannot_be_invented_or_tampered_with() -> None:
    ids = SessionIds(SECRET)
    issued = {ids.issue() for _ in range(1000)}
    assert len(issued) == 1000 and all(ids.is_valid(i) for i in issued)
    one = next(iter(issued))
    other_key = SessionIds("another-secret-0123456789abcdef0123")
    assert not other_key.is_valid(one)
    rng = random.Random(SEED + 3)
    for _ in range(500):
        chars = list(one)
        i = rng.randrange(len(chars))
        chars[i] = rng.choice([c for c in "0123456789abcdef." if c != chars[i]])
        assert not ids.is_valid("".join(chars))
    for forged in ["", "web-1", "a" * 65, one + "0", one.upper(), None, 5, ["x"]]:
        assert not ids.is_valid(forged)


@pytest.fixture
def guard(tmp_path: Path) -> ChannelGuard:
    settings = ChannelSettings(
        jwt_secret=SECRET,
        tracker_db_url=f"sqlite:///{tmp_path / 'trackers.db'}",
        per_minute=1000,
    )
    return ChannelGuard(settings, limiter=MemoryLimiter())


async def test_a_conversation_belongs_to_its_first_verified_customer(
    guard: ChannelGuard,
) -> None:
    a, b = token_for("C001"), token_for("C002")
    first = await guard.admit("conv-1", "查余额", {"auth_token": a}, "1.1.1.1")
    assert first.problem is None and first.customer_id == "C001"
    assert first.metadata == {"auth_token": a}
    stranger = await guard.admit("conv-1", "确认", {"auth_token": b}, "1.1.1.1")
    assert (stranger.problem, stranger.status) == ("foreign_identity", 403)
    anonymous = await guard.admit("conv-1", "确认", {}, "1.1.1.1")
    assert (anonymous.problem, anonymous.status) == ("login_required", 401)
    again = await guard.admit("conv-1", "确认", {"auth_token": a}, "1.1.1.1")
    assert again.problem is None
    # B's own conversation is B's; an anonymous one stays open to anyone
    assert (await guard.admit("conv-2", "hi", {"auth_token": b}, "x")).problem is None
    assert (await guard.admit("conv-3", "hi", None, "x")).problem is None
    assert guard.owners.conversations_of("C002") == ["conv-2"]


async def test_bad_tokens_are_dropped_before_the_dialogue(guard: ChannelGuard) -> None:
    # The signature's first character changed (its last ones may be padding bits).
    body, signature = token_for("C001").rsplit(".", 1)
    tampered = f"{body}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    foreign_key = issue_token("C001", "not-our-key-0123456789abcdef012345", 5)
    for token in [tampered, foreign_key, "x" * 5000, "a.b.c", ""]:
        admission = await guard.admit("anon-1", "hi", {"auth_token": token}, "x")
        assert admission.problem is None and admission.customer_id is None
        assert "auth_token" not in admission.metadata


async def test_a_revoked_login_counts_for_nothing(guard: ChannelGuard) -> None:
    token = token_for("C002")
    assert (await guard.admit("c2", "hi", {"auth_token": token}, "x")).customer_id
    guard.revocations.revoke("C002")
    late = await guard.admit("c2-new", "hi", {"auth_token": token}, "x")
    assert late.customer_id is None and "auth_token" not in late.metadata
    owned = await guard.admit("c2", "hi", {"auth_token": token}, "x")
    assert owned.problem == "login_required"


def test_racing_claims_give_one_owner(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}")
    winners: list[str] = []

    def claim(customer: str) -> None:
        owners = ConversationOwners(engine)  # one per "replica": no shared cache
        winners.append(owners.claim("contested", customer))

    threads = [
        threading.Thread(target=claim, args=(f"C00{i % 3 + 1}",)) for i in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(winners)) == 1
    assert ConversationOwners(engine).owner("contested") == winners[0]


async def test_limits_are_counted_before_any_work(tmp_path: Path) -> None:
    settings = ChannelSettings(
        jwt_secret=SECRET,
        tracker_db_url=f"sqlite:///{tmp_path / 't.db'}",
        per_minute=2,
        ip_factor=3,
    )
    guard = ChannelGuard(settings, limiter=MemoryLimiter())
    codes = []
    for i in range(8):  # rotating sender ids from one address
        codes.append((await guard.admit(f"fresh-{i}", "hi", {}, "9.9.9.9")).status)
    assert codes == [200] * 6 + [429] * 2
    assert (await guard.admit("fresh-x", "hi", {}, "8.8.8.8")).status == 200
    # a refused message counts too: empty and oversized texts spend the budget
    assert (await guard.admit("s", " ", {}, "7.7.7.7")).problem == "empty"
    assert (await guard.admit("s", "x" * 5000, {}, "7.7.7.7")).problem == "too_long"
    assert (await guard.admit("s", "ok", {}, "7.7.7.7")).problem == "rate_limited"


async def test_admission_never_fails_on_generated_input(guard: ChannelGuard) -> None:
    rng = random.Random(SEED + 4)
    for i in range(300):
        text = "".join(chr(rng.randint(0, 0x10FFFF)) for _ in range(rng.randint(0, 60)))
        text = text.encode("utf-8", "replace").decode("utf-8", "replace")
        admission = await guard.admit(
            f"gen-{i % 7}", text, _random_json(rng), f"10.0.0.{i % 5}"
        )
        assert admission.problem in (None, "empty", "too_long", "login_required")
        if admission.problem is None:
            assert not rules.is_command(admission.text)
            json.dumps(admission.metadata)


async def test_owners_outage_is_a_clear_refusal(tmp_path: Path) -> None:
    settings = ChannelSettings(
        jwt_secret=SECRET,
        tracker_db_url="postgresql+psycopg2://nobody@127.0.0.1:1/none",
        per_minute=10,
    )
    guard = ChannelGuard(settings, limiter=MemoryLimiter())
    admission = await asyncio.wait_for(
        guard.admit("c", "hi", {"auth_token": token_for("C001")}, "x"), 10
    )
    assert (admission.problem, admission.status) == ("unavailable", 503)


@pytest.mark.parametrize(
    ("text", "blank"),
    [("", True), (" \u200b\u3000\ufeff\u2060\n", True), ("\u00ad\u202e", True),
     ("a", False), (" 你 ", False), ("😀", False), ("\u200b1", False)],
)  # fmt: skip
def test_invisible_only_messages_are_empty(text: str, blank: bool) -> None:
    assert rules.is_blank(text) is blank


@pytest.mark.parametrize(
    ("text", "expected"),
    [("查余额\x00\x01ok", "查余额ok"), ("a\tb\nc", "a\tb\nc"), ("x\x7fy\x9bz", "xyz"),
     ("hi \ud800 there", None), ("\x00/greet", "greet")],
)  # fmt: skip
def test_control_characters_go_and_lone_surrogates_are_refused(
    text: str, expected: str | None
) -> None:
    assert rules.clean_text(text) == expected


async def test_one_conversations_messages_keep_their_order() -> None:
    from addons.channels import ConversationOrder

    order, seen = ConversationOrder(), []

    async def message(n: int) -> None:
        async with order.turn("conv"):
            await asyncio.sleep(random.random() / 100)  # admission's thread hop
            seen.append(n)

    await asyncio.gather(*(message(n) for n in range(50)))
    assert seen == list(range(50)) and len(order) == 0
