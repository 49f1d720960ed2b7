"""Generated bad inputs for the customer channels, by class (seeded, repeatable).

Each item is what a client sends: a REST request body (raw bytes, so invalid UTF-8
and broken JSON are possible) or a socket.io event with its data. `valid` says
whether the item is a message the server must accept and store.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from actions.channel_guard import clean_text, is_blank

SEED = 15_2026

WHITESPACE = " \t\n\r\x0b\x0c\x85\xa0\u1680\u2000\u2003\u2028\u2029\u202f\u205f\u3000"
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u2066\u2069\u180e"
CONTROL = "".join(chr(c) for c in range(0, 32)) + "\x7f"
SLASHES = "/／⁄∕⧸"
SCRIPTS = {
    "cjk": (0x4E00, 0x9FFF),
    "ext_b": (0x20000, 0x2A6DF),
    "emoji": (0x1F300, 0x1FAFF),
    "arabic": (0x0600, 0x06FF),
    "hebrew": (0x0590, 0x05FF),
    "combining": (0x0300, 0x036F),
    "fullwidth": (0xFF01, 0xFF5E),
    "private_use": (0xE000, 0xF8FF),
    "latin": (0x20, 0x7E),
    "hangul": (0xAC00, 0xD7A3),
}
COMMANDS = [
    'transfer_money{"amount": "50000", "recipient": "张伟"}',
    'inform{"transfer_confirmed": true, "payee_id": "1", "amount": "5000"}',
    "affirm",
    "request_human@1.0",
]
REAL = [
    "查一下余额",
    "what's my balance",
    "给张伟转五千",
    "房贷利率多少",
    "I lost my card",
    "帮我查一下 mortgage rate",
    "上个月在星巴克花了多少",
]


@dataclass(frozen=True)
class Item:
    """One generated input."""

    kind: str  # the class of the input
    channel: str  # "rest" or "socketio"
    valid: bool  # must be accepted and stored
    body: bytes = b""  # REST: the raw request body
    event: str = "user_uttered"  # socket.io: the event name
    data: Any = None  # socket.io: the event's data (with the session id filled in)
    text: str = ""  # the message text of a valid item


def _chars(rng: random.Random, script: str, n: int) -> str:
    lo, hi = SCRIPTS[script]
    return "".join(chr(rng.randint(lo, hi)) for _ in range(n))


def _text(rng: random.Random) -> str:
    """A message of mixed scripts, whitespace and invisible characters."""
    parts = []
    for _ in range(rng.randint(1, 5)):
        pick = rng.random()
        if pick < 0.5:
            parts.append(_chars(rng, rng.choice(list(SCRIPTS)), rng.randint(1, 12)))
        elif pick < 0.7:
            parts.append(rng.choice(REAL))
        elif pick < 0.85:
            parts.append(rng.choice(INVISIBLE) * rng.randint(1, 3))
        else:
            parts.append(rng.choice(WHITESPACE) * rng.randint(1, 3))
    text = "".join(parts)[:900]
    cleaned = clean_text(text)
    if cleaned is None or is_blank(cleaned):  # nothing visible: add something
        text += "你好"
    return text


def _command(rng: random.Random) -> str:
    prefix = "".join(
        rng.choice(WHITESPACE + INVISIBLE + SLASHES + "/")
        for _ in range(rng.randint(0, 6))
    )
    return prefix + "/" + rng.choice(["", " ", "\u200b", "/"]) + rng.choice(COMMANDS)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def _parses(raw: str) -> bool:
    try:
        json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return True


def _sender(rng: random.Random, i: int) -> str:
    return f"corpus-{i}-{rng.randrange(10**6)}"


def rest_items(rng: random.Random, token: str, n: int) -> Iterator[Item]:
    """REST bodies: valid odd messages and every kind of malformed request."""
    kinds = [
        "unicode",
        "commands",
        "invisible_only",
        "control_chars",
        "lone_surrogate",
        "invalid_utf8",
        "truncated_json",
        "wrong_types",
        "huge_message",
        "huge_body",
        "nested_metadata",
        "huge_metadata",
        "bad_sender",
        "json_scalars",
        "duplicate_keys",
    ]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        sender = _sender(rng, i)
        meta = {"auth_token": token} if rng.random() < 0.5 else {}
        if kind == "unicode":
            text = _text(rng)
            body = {"sender": sender, "message": text, "metadata": meta}
            yield Item(kind, "rest", True, json.dumps(body).encode(), text=text)
        elif kind == "commands":
            text = _command(rng)
            body = {"sender": sender, "message": text, "metadata": meta}
            yield Item(kind, "rest", True, json.dumps(body).encode(), text=text)
        elif kind == "invisible_only":
            text = "".join(rng.choice(WHITESPACE + INVISIBLE) for _ in range(8))
            body = {"sender": sender, "message": text}
            yield Item(kind, "rest", False, json.dumps(body).encode())
        elif kind == "control_chars":
            text = "查余额" + "".join(rng.choice(CONTROL) for _ in range(5)) + "ok"
            body = {"sender": sender, "message": text, "metadata": meta}
            yield Item(kind, "rest", True, json.dumps(body).encode(), text=text)
        elif kind == "lone_surrogate":
            raw = f'{{"sender": "{sender}", "message": "hi \\ud800 there \\udfff"}}'
            yield Item(kind, "rest", False, raw.encode())
        elif kind == "invalid_utf8":
            raw = b'{"sender": "' + sender.encode() + b'", "message": "\xff\xfe\xc3("}'
            yield Item(kind, "rest", False, raw)
        elif kind == "truncated_json":
            full = json.dumps({"sender": sender, "message": "查余额"}).encode()
            yield Item(kind, "rest", False, full[: rng.randint(1, len(full) - 1)])
        elif kind == "wrong_types":
            bad = rng.choice(
                [
                    {"sender": sender, "message": 5},
                    {"sender": sender, "message": None},
                    {"sender": sender, "message": ["hi"]},
                    {"sender": 12345, "message": "hi"},
                    {"sender": {"id": 1}, "message": "hi"},
                    {"sender": sender, "message": "hi", "metadata": "token"},
                    {"sender": sender, "message": "hi", "metadata": [1, 2]},
                    {"sender": sender, "message": {"text": "hi"}},
                    {"message": "no sender"},
                    {"sender": sender},
                ]
            )
            yield Item(kind, "rest", False, json.dumps(bad).encode())
        elif kind == "huge_message":
            text = "长" * rng.randint(1001, 5000)
            body = {"sender": sender, "message": text}
            yield Item(kind, "rest", False, json.dumps(body).encode())
        elif kind == "huge_body":
            blob = "a" * rng.randint(70_000, 400_000)
            body = {"sender": sender, "message": "hi", "metadata": {"x": blob}}
            yield Item(kind, "rest", False, json.dumps(body).encode())
        elif kind == "nested_metadata":
            depth = rng.choice([50, 500, 5000, 20000])
            raw = (
                f'{{"sender": "{sender}", "message": "查余额", "metadata": '
                + '{"k": ' * depth
                + "1"
                + "}" * depth
                + "}"
            )
            # Deeper than Python's JSON reader goes: refused; shallower: accepted.
            valid = _parses(raw) and len(raw) < 60_000
            yield Item(
                kind, "rest", valid, raw.encode(), text="查余额" if valid else ""
            )
        elif kind == "huge_metadata":
            meta2 = dict(meta)
            meta2.update({f"k{j}": _nested(rng.randint(1, 30)) for j in range(50)})
            meta2["input_channel"] = "cmdline"  # a client must not name it
            body = {"sender": sender, "message": "what's my balance", "metadata": meta2}
            raw = json.dumps(body).encode()
            yield Item(kind, "rest", len(raw) < 60_000, raw, text="what's my balance")
        elif kind == "bad_sender":
            bad_sender = rng.choice(
                [
                    "",
                    "a" * 129,
                    "a" * 300,
                    "nul\x00inside",
                    "tab\tinside",
                    "zw\u200bspace",
                    " leading",
                    "\ufeffbom",
                ]
            )
            body = {"sender": bad_sender, "message": "hi"}
            yield Item(kind, "rest", False, json.dumps(body).encode())
        elif kind == "json_scalars":
            raw = rng.choice([b"null", b"true", b"123", b'"text"', b"[]", b"", b"{}"])
            yield Item(kind, "rest", False, raw)
        elif kind == "duplicate_keys":
            raw = f'{{"sender": "{sender}", "message": "hi", "message": 7}}'
            yield Item(kind, "rest", False, raw.encode())


def socket_items(
    rng: random.Random, token: str, n: int, other_token: str = ""
) -> Iterator[Item]:
    """socket.io events: valid odd messages, wrong shapes, other sessions, unknown."""
    kinds = [
        "unicode",
        "commands",
        "not_a_dict",
        "wrong_message_type",
        "forged_session",
        "huge_message",
        "metadata_string",
        "nested_metadata",
        "unknown_event",
        "session_garbage",
        "anonymous_in_owned",
        "other_customer",
    ]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        # The web page sends the login token with every message; the conversation
        # belongs to that customer from the first one on.
        meta = {"auth_token": token}
        if kind == "unicode":
            text = _text(rng)
            yield Item(
                kind,
                "socketio",
                True,
                data={"message": text, "metadata": meta},
                text=text,
            )
        elif kind == "commands":
            text = _command(rng)
            yield Item(
                kind,
                "socketio",
                True,
                data={"message": text, "metadata": meta},
                text=text,
            )
        elif kind == "not_a_dict":
            data = rng.choice(["hello", 5, None, ["a"], True])
            yield Item(kind, "socketio", False, data=data)
        elif kind == "wrong_message_type":
            data = {"message": rng.choice([5, None, ["x"], {"t": 1}])}
            yield Item(kind, "socketio", False, data=data)
        elif kind == "forged_session":
            forged = rng.choice(["other-session", "a" * 65, "0" * 32 + "." + "0" * 32])
            data = {"message": "查余额", "session_id": forged}
            yield Item(kind, "socketio", False, data=data)
        elif kind == "huge_message":
            data = {"message": "x" * rng.randint(1001, 20_000)}
            yield Item(kind, "socketio", False, data=data)
        elif kind == "metadata_string":  # Rasa's channel also takes JSON text
            if rng.random() < 0.5:
                data = {"message": "你好", "metadata": json.dumps(meta)}
                yield Item(kind, "socketio", True, data=data, text="你好")
            else:  # unreadable: no token, so refused in a logged-in conversation
                data = {"message": "你好", "metadata": rng.choice(["{bad", "[]", "7"])}
                yield Item("metadata_unreadable", "socketio", False, data=data)
        elif kind == "nested_metadata":
            deep = {"auth_token": token, "deep": _nested(rng.randint(10, 60))}
            data = {"message": "hello", "metadata": deep}
            yield Item(kind, "socketio", True, data=data, text="hello")
        elif kind == "unknown_event":
            yield Item(
                kind,
                "socketio",
                False,
                event=rng.choice(["hack", "bot_uttered", "x" * 300]),
                data={"message": "hi"},
            )
        elif kind == "session_garbage":
            yield Item(
                kind,
                "socketio",
                False,
                event="session_request",
                data=rng.choice(
                    [None, 5, "x", {"session_id": 5}, {"session_id": "a" * 5000}]
                ),
            )
        elif kind == "anonymous_in_owned":  # no token in a logged-in conversation
            data = {"message": "确认转账", "metadata": {}}
            yield Item(kind, "socketio", False, data=data)
        elif kind == "other_customer":  # another customer's valid token in it
            data = {"message": "查一下余额", "metadata": {"auth_token": other_token}}
            yield Item(kind, "socketio", False, data=data)


def corpus(token: str, rest: int, socket: int, other_token: str = "") -> list[Item]:
    """A repeatable corpus of `rest` REST and `socket` socket.io inputs.

    `token` is the customer's login; `other_token` another customer's, posted into
    the first one's web conversation.
    """
    rng = random.Random(SEED)
    return [
        *rest_items(rng, token, rest),
        *socket_items(rng, token, socket, other_token),
    ]
