"""What a customer channel accepts, decided before the dialogue sees anything.

Rasa-free rules the guarded REST and socket.io channels (addons/channels.py) apply to
every request, so that they can be tested alone:

- no text a customer sends acts as an intent command (`neutralise_commands`);
- sender ids, texts and metadata are checked for type, size and characters, and
  metadata is reduced to what the channels use (`clean_metadata`);
- the customer-facing notices of a refusal, in the language of the message.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from actions.language import written_language

# Rasa treats a message as a command ("/intent{...}" skips NLU, the risk, emotion and
# language components) when `text.strip()` starts with "/" (YAMLStoryReader.
# unpack_regex_message). Characters that look like a slash, or become one under
# Unicode compatibility normalisation (full-width "／"), count as slashes too, so that
# no later normalisation can turn a neutralised text back into a command.
SLASHES = frozenset("/／⁄∕⧸╱⟋⼃丿")
# Characters a person does not see: they may not hide a slash either.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})
_COMBINING_CATEGORIES = frozenset({"Mn", "Me"})

MAX_SENDER_CHARS = 128
MAX_TOKEN_CHARS = 4096  # a login token is a few hundred characters
# The only metadata key any channel or action reads (actions/identity.py).
METADATA_KEYS = ("auth_token",)

NOTICES = {
    "empty": ("请输入您的问题。", "Please type your question."),
    "invalid_text": (
        "这条消息里有无法识别的字符，请重新输入。",
        "That message contains characters we cannot read; please type it again.",
    ),
    "too_long": (
        "消息太长了，请分几条发送，每条不超过 {limit} 个字。",
        "That message is too long; please send it in parts of at most {limit} "
        "characters.",
    ),
    "rate_limited": (
        "您发送得太快了，请稍等片刻再发。",
        "You're sending messages very fast; please wait a moment.",
    ),
    "foreign_identity": (
        "这个对话属于另一位客户，无法继续。请打开一个新的对话。",
        "This conversation belongs to another customer. Please start a new "
        "conversation.",
    ),
    "login_required": (
        "这个对话需要您登录后才能继续，请重新登录（登录可能已过期）。",
        "Please log in again to continue this conversation (your login may have "
        "expired).",
    ),
    "unavailable": (
        "抱歉，系统暂时繁忙，您的消息没有处理成功，请稍后再发一次。急事请拨打客服热线。",
        "Sorry, our service is briefly unavailable and your message was not "
        "processed. Please send it again in a moment, or call our hotline if it is "
        "urgent.",
    ),
    "no_reply": (
        "抱歉，我没能回答这条消息。请换个说法，或者说“转人工”找人工客服。",
        "Sorry, I could not answer that. Please rephrase it, or say “agent” to talk "
        "to a person.",
    ),
}


def _is_ignorable(ch: str) -> bool:
    """Whitespace, invisible and combining characters: nothing a reader sees."""
    if ch.isspace():
        return True
    category = unicodedata.category(ch)
    return category in _INVISIBLE_CATEGORIES or category in _COMBINING_CATEGORIES


def _is_slash(ch: str) -> bool:
    return ch in SLASHES or unicodedata.normalize("NFKC", ch) == "/"


def neutralise_commands(text: str) -> str:
    """The text with any leading run of slashes and invisible characters removed.

    Whatever whitespace, invisible, combining or slash-like characters come before or
    between the slashes ("/ /transfer_money{...}", a zero-width space and "/greet",
    "／／greet"), the whole leading run goes when it holds a slash, so the result never
    starts with a character that Rasa or a later normalisation strips or reads as
    "/". A text that does not start like a command is returned unchanged.
    """
    end = 0
    has_slash = False
    while end < len(text) and (_is_ignorable(text[end]) or _is_slash(text[end])):
        has_slash = has_slash or _is_slash(text[end])
        end += 1
    return text[end:] if has_slash else text


_KEPT_CONTROLS = frozenset("\t\n")


def clean_text(text: str) -> str | None:
    """The message without commands and control characters; None if not text at all.

    A lone surrogate (a JSON escape such as U+D800 on its own) is no character of any
    language: such a message is refused. Control characters other than tab and
    newline are dropped (a NUL cannot even be stored in a PostgreSQL text column).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        text = "".join(
            ch
            for ch in text
            if ch in _KEPT_CONTROLS or unicodedata.category(ch) != "Cc"
        )
    return neutralise_commands(text)


def is_blank(text: str) -> bool:
    """Whether nothing a reader could see is in `text` (spaces, zero-width, ...)."""
    return all(_is_ignorable(ch) for ch in text)


def is_command(text: str) -> bool:
    """Whether Rasa would read `text` as an intent command (its own test)."""
    return text.strip().startswith("/")


def sender_problem(sender: Any) -> str | None:
    """Why a sender (conversation) id is unusable, or None.

    1-128 printable characters without control or invisible ones: ids go into the
    tracker store's key column, logs and URLs of the Rasa API (a NUL or an id longer
    than the column made PostgreSQL refuse the save).
    """
    if not isinstance(sender, str):
        return "sender must be a string"
    if not 0 < len(sender) <= MAX_SENDER_CHARS:
        return f"sender must be 1-{MAX_SENDER_CHARS} characters"
    if any(_is_ignorable(ch) or not ch.isprintable() for ch in sender):
        return "sender must not contain spaces, control or invisible characters"
    return None


def clean_metadata(metadata: Any) -> dict[str, str]:
    """Only the metadata the channels use, each value a bounded string.

    Anything else a client sends (nested objects, huge arrays, keys Rasa or a future
    component might act on) is dropped before the message is stored or processed.
    """
    if not isinstance(metadata, Mapping):
        return {}
    kept: dict[str, str] = {}
    for key in METADATA_KEYS:
        value = metadata.get(key)
        if isinstance(value, str) and 0 < len(value) <= MAX_TOKEN_CHARS:
            kept[key] = value
    return kept


def notice_language(text: str, default: str = "zh") -> str:
    """The language to explain a refusal in: the message's own, else `default`."""
    return written_language(text[:2000]) or default


def notice(problem: str, text: str, limit: int = 0, default: str = "zh") -> str:
    """A customer-facing explanation of `problem` in the language of `text`."""
    zh, en = NOTICES[problem]
    chosen = en if notice_language(text, default) == "en" else zh
    return chosen.format(limit=limit)
