"""Money: find amounts in customer text (五千, 2万, 1.5k, ¥3,000) and format Decimals.

Amounts are always `Decimal` with two places; nothing here uses float.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10_000, "亿": 100_000_000}
_EN_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "a": 1,
}

_CURRENCY_BEFORE = r"(?:¥|￥|\$|rmb\s?|cny\s?|usd\s?)"
_CURRENCY_AFTER = r"(?:\s?(?:块钱|块|元|圆|rmb|cny|yuan|dollars?|bucks|usd|刀))"
# Arabic number with an optional scale: 3000, 3,000.50, 1.5k, 2w, 2万, 3千, 1.2万元.
_ARABIC = re.compile(
    r"(?<![\d.,a-zA-Z])(?P<cur>" + _CURRENCY_BEFORE + r")?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"\s?(?P<scale>k\b|K\b|w\b|W\b|万|千|百|grand\b|thousand\b|hundred\b)?"
    r"(?P<cur2>" + _CURRENCY_AFTER + r")?",
    re.IGNORECASE,
)
# Chinese numerals: 五千, 两万, 三千五, 一万二千, 八百块.
_CHINESE = re.compile(r"[零〇一幺二两俩三四五六七八九十拾百佰千仟万亿]+(?:块钱|块|元)?")
_ENGLISH = re.compile(
    r"\b(?P<word>" + "|".join(_EN_WORDS) + r")\s+(?P<scale>thousand|hundred|grand)\b"
    r"(?:\s+(?:dollars?|yuan|rmb|bucks))?",
    re.IGNORECASE,
)
# A number followed by one of these is a date, a term, a count or a percentage.
_NOT_MONEY_AFTER = re.compile(
    r"^\s?(?:年|岁|月|个月|个|日|号|天|周|星期|期|套|%|％|点|次|笔|张|位|years?\b|yrs?\b|"
    r"months?\b|days?\b|weeks?\b|%|st\b|nd\b|rd\b|th\b|am\b|pm\b|:)",
    re.IGNORECASE,
)
_MAX_PLAIN_DIGITS = 9  # longer digit runs are card, account or phone numbers


@dataclass(frozen=True)
class AmountMatch:
    """An amount found in text: character span and its value."""

    start: int
    end: int
    text: str
    value: Decimal


def quantize(value: Decimal) -> Decimal:
    """Round to cents, half up, as banks do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_decimal(text: str) -> Decimal | None:
    """Parse a canonical decimal string such as ``"3000.00"``; None when invalid."""
    try:
        value = Decimal(str(text).replace(",", "").strip())
    except (InvalidOperation, ValueError):
        return None
    return quantize(value) if value.is_finite() else None


def chinese_to_int(text: str) -> int | None:
    """Convert a Chinese numeral (五千, 三千五, 一万二千三百) to an int.

    Args:
        text: Chinese numeral characters only.

    Returns:
        The value, or None when the text is not a well-formed numeral.
    """
    if not text or any(
        c not in _CN_DIGITS and c not in _CN_UNITS and c not in _CN_BIG for c in text
    ):
        return None
    total, section, digit = 0, 0, None
    last_unit, after_zero = 1, False
    for char in text:
        if char in ("零", "〇"):
            after_zero, digit = True, None
        elif char in _CN_DIGITS:
            digit = _CN_DIGITS[char]
        elif char in _CN_UNITS:
            unit = _CN_UNITS[char]
            section += (1 if digit is None else digit) * unit
            digit, last_unit, after_zero = None, unit, False
        else:
            big = _CN_BIG[char]
            total += (section + (digit or 0)) * big
            section, digit, last_unit, after_zero = 0, None, big, False
    if digit is not None:
        # 三千五 is 3500: a trailing digit counts one place below the last unit,
        # unless a zero stands between them (一百零五 is 105).
        short = last_unit >= 10 and not after_zero
        section += digit * (last_unit // 10 if short else 1)
    return total + section


def _scaled(number: Decimal, scale: str | None) -> Decimal:
    factors = {
        "k": 1000,
        "grand": 1000,
        "thousand": 1000,
        "千": 1000,
        "hundred": 100,
        "百": 100,
        "w": 10_000,
        "万": 10_000,
    }
    return number * factors[scale.lower()] if scale else number


def find_amounts(text: str) -> list[AmountMatch]:
    """Find money amounts in Chinese or English text.

    Bare numbers followed by a date, term or count word (30年, 3个月, 2套) are
    not money, nor are digit runs long enough to be a card or account number.

    Args:
        text: the customer's message.

    Returns:
        Matches in text order, values rounded to cents and positive.
    """
    found: list[AmountMatch] = []
    taken: list[tuple[int, int]] = []

    def add(start: int, end: int, value: Decimal) -> None:
        while end > start and text[end - 1].isspace():
            end -= 1
        if value <= 0 or any(s < end and start < e for s, e in taken):
            return
        taken.append((start, end))
        found.append(AmountMatch(start, end, text[start:end], quantize(value)))

    for m in _ARABIC.finditer(text):
        digits = m.group("num").replace(",", "")
        if len(digits.split(".")[0]) > _MAX_PLAIN_DIGITS:
            continue
        if (
            not m.group("scale")
            and not m.group("cur2")
            and _NOT_MONEY_AFTER.match(text[m.end("num") :])
        ):
            continue
        if text[m.end() : m.end() + 1] in {"年", "月", "号", "日"}:
            continue
        add(m.start(), m.end(), _scaled(Decimal(digits), m.group("scale")))
    for m in _CHINESE.finditer(text):
        core = m.group().rstrip("块钱元")
        has_currency = len(core) < len(m.group())
        value = chinese_to_int(core)
        if value is None or _NOT_MONEY_AFTER.match(text[m.end() :]):
            continue
        # 一下, 三 and 二套 are not money: demand a currency word or a value of 10+.
        if value < 10 and not has_currency:
            continue
        add(m.start(), m.end(), Decimal(value))
    for m in _ENGLISH.finditer(text):
        add(
            m.start(),
            m.end(),
            _scaled(Decimal(_EN_WORDS[m.group("word").lower()]), m.group("scale")),
        )
    return sorted(found, key=lambda a: a.start)


def format_money(amount: Decimal, language: str = "zh", currency: str = "CNY") -> str:
    """Format an amount for a customer: ``12,345.67 元`` or ``CNY 12,345.67``."""
    text = f"{quantize(amount):,.2f}"
    if language == "zh" and currency == "CNY":
        return f"{text} 元"
    return f"{currency} {text}"
