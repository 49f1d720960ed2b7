"""Personal data in free text: find and mask it.

Bank cards, mainland ID numbers, mobile phone numbers, e-mail addresses and account
numbers, in Chinese or English text.

Used for every transcript an agent sees; the tracker store, logs and LLM prompts follow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Digit groups may be split by spaces or dashes, as people type card numbers.
_DIGIT_RUN = re.compile(
    r"(?<![\dA-Za-z])\d(?:[ -]?\d){9,24}(?:[Xx](?![A-Za-z]))?(?!\d)"
)
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d){8}(?!\d)")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A date written with dashes is no part of a card or account number: "2026-11-25 5000元"
# must not merge into one 12-digit run. (An ID number does contain its birth date.)
_DASH_DATE = re.compile(
    r"(?<![\d-])(?:19|20)\d\d-(?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12]\d|3[01])(?![\d-])"
)
ACCOUNT_MIN_DIGITS = 12  # shorter runs are amounts, dates or order numbers
# A number glued to letters ("ICBC6222…", "ID11010519…") is usually a reference code and
# is left alone, unless its checksum says it is a card or an ID number.
_LETTER_GLUED = re.compile(
    r"(?<=[A-Za-z])\d(?:[ -]?\d){15,18}(?:[Xx](?![A-Za-z]))?(?!\d)"
)


@dataclass(frozen=True)
class PiiMatch:
    """A piece of personal data in a text."""

    kind: str  # card, id, phone, email, account
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def id_number_ok(value: str) -> bool:
    """Mainland resident ID: 17 digits and a check character (ISO 7064 MOD 11-2)."""
    if not re.fullmatch(r"\d{17}[\dXx]", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[-1].upper()


def find_pii(text: str) -> list[PiiMatch]:
    """All personal data in `text`, in text order, without overlaps.

    Args:
        text: any customer or agent message.

    Returns:
        Matches of kind ``card``, ``id``, ``phone``, ``email`` or ``account``.
    """
    found: list[PiiMatch] = []

    def add(kind: str, start: int, end: int) -> None:
        if all(end <= m.start or m.end <= start for m in found):
            found.append(PiiMatch(kind, start, end))

    for m in _EMAIL.finditer(text):
        add("email", m.start(), m.end())
    undated = _DASH_DATE.sub(lambda m: "/" * len(m.group()), text)  # same offsets
    for m in _DIGIT_RUN.finditer(text):
        raw = re.sub(r"[ -]", "", m.group())
        if len(raw) == 18 and id_number_ok(raw):
            add("id", m.start(), m.end())
    for m in _DIGIT_RUN.finditer(undated):
        raw = re.sub(r"[ -]", "", m.group())
        if raw.isdigit() and 16 <= len(raw) <= 19 and luhn_ok(raw):
            add("card", m.start(), m.end())
    for m in _LETTER_GLUED.finditer(undated):
        raw = re.sub(r"[ -]", "", m.group())
        if len(raw) == 18 and id_number_ok(raw):
            add("id", m.start(), m.end())
        elif raw.isdigit() and 16 <= len(raw) <= 19 and luhn_ok(raw):
            add("card", m.start(), m.end())
    for m in _MOBILE.finditer(text):
        add("phone", m.start(), m.end())
    for m in _DIGIT_RUN.finditer(undated):
        raw = re.sub(r"[ -]", "", m.group())
        digits = raw[:-1] if raw[-1] in "Xx" else raw  # an ID with a wrong check X
        if digits.isdigit() and len(digits) >= ACCOUNT_MIN_DIGITS:
            add("account", m.start(), m.end())
    return sorted(found, key=lambda m: m.start)


def _label(kind: str, value: str) -> str:
    digits = re.sub(r"\D", "", value)
    if kind in ("card", "account"):
        return f"[{kind.upper()} ****{digits[-4:]}]"
    if kind == "phone":
        return f"[PHONE ***{digits[-4:]}]"
    return f"[{kind.upper()}]"


def mask_pii(text: str) -> str:
    """Replace personal data: ``6222…1234`` → ``[CARD ****1234]``, IDs → ``[ID]``."""
    if not text:
        return text
    out, last = [], 0
    for m in find_pii(text):
        out.append(text[last : m.start])
        out.append(_label(m.kind, text[m.start : m.end]))
        last = m.end
    out.append(text[last:])
    return "".join(out)
