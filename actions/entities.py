"""Rule-based entity extraction shared by the NLU component and the tests.

Finds canonical values for lexicon entities (account and card types, home status,
periods, merchants, categories), amounts and loan terms in Chinese or English text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from actions.money import chinese_to_int, find_amounts

DEFAULT_LEXICON = Path(__file__).resolve().parent.parent / "addons" / "lexicon.yml"
_LATIN = re.compile(r"^[\x00-\x7f]+$")
_TERM_ZH = re.compile(r"(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,3})\s?年(?:期)?")
_TERM_EN = re.compile(r"\b(?P<n>\d{1,2})[\s-]?(?:years?|yrs?|yr)\b", re.IGNORECASE)
_PERIOD_ZH = re.compile(
    r"(?:最近|近|过去)(?P<n>\d{1,3}|[一二两三四五六七八九十]{1,3})\s?(?P<u>天|日|周|个星期|个月)"
)
_PERIOD_EN = re.compile(
    r"\b(?:last|past|previous)\s+(?P<n>\d{1,3})\s+(?P<u>days?|weeks?|months?)\b",
    re.IGNORECASE,
)
# A payee named around a transfer verb: 给张伟转, 转给王芳, 转2万到我妈那, to Alice,
# pay my landlord. Names are then resolved against the customer's own payee list.
_RECIPIENT_ZH = re.compile(
    r"(?:转账给|转钱给|转给|汇给|打给|给|到)\s*(?P<name>[\u4e00-\u9fff]{1,4}?|"
    r"[A-Za-z][A-Za-z.]*(?:\s[A-Z][a-z.]+)?)"
    r"\s*(?=转|汇|打|那|账户|的卡|卡里|[0-9零一二两三四五六七八九十百千万¥￥]|块|元|吧|呀|啊|哈|，|,|。|！|!|？|\?|\s|$)"
)
_RECIPIENT_EN = re.compile(
    r"\b(?:to|pay|paying)\s+(?P<name>(?:my\s+)?[A-Za-z][A-Za-z.']*(?:\s+[A-Z][A-Za-z.']*)?)",
    re.IGNORECASE,
)
_NOT_A_NAME = {
    "make",
    "send",
    "transfer",
    "pay",
    "move",
    "wire",
    "do",
    "be",
    "the",
    "a",
    "an",
    "someone",
    "somebody",
    "me",
    "you",
    "it",
    "them",
    "him",
    "her",
    "my",
    "your",
    "check",
    "see",
    "know",
    "get",
    "talk",
    "speak",
    "an agent",
    "a person",
    "account",
    "我",
    "你",
    "他",
    "她",
    "它",
    "我们",
    "你们",
    "他们",
    "人",
    "别人",
    "谁",
    "多少",
}
_DAYS_PER_UNIT = {
    "天": 1,
    "日": 1,
    "周": 7,
    "个星期": 7,
    "个月": 30,
    "day": 1,
    "week": 7,
    "month": 30,
}
MAX_LOAN_TERM_YEARS = 30


@dataclass(frozen=True)
class Entity:
    """An extracted entity in Rasa's shape: name, canonical value and span."""

    entity: str
    value: str
    start: int
    end: int

    def as_rasa(self, extractor: str) -> dict[str, Any]:
        """The dict Rasa stores in a message's ``entities`` list."""
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": 1.0,
            "extractor": extractor,
        }


class EntityLexicon:
    """Matches lexicon surface forms, longest first, without overlaps."""

    def __init__(self, table: Mapping[str, Mapping[str, Iterable[str]]]) -> None:
        forms = [
            (str(form), entity, value)
            for entity, values in table.items()
            for value, surfaces in values.items()
            for form in surfaces
        ]
        forms.sort(key=lambda f: len(f[0]), reverse=True)
        self._patterns = [
            (
                re.compile(
                    rf"(?<![A-Za-z0-9]){re.escape(form)}(?![A-Za-z0-9])"
                    if _LATIN.match(form)
                    else re.escape(form),
                    re.IGNORECASE,
                ),
                entity,
                value,
            )
            for form, entity, value in forms
        ]

    @classmethod
    def from_file(cls, path: Path = DEFAULT_LEXICON) -> EntityLexicon:
        """Load a lexicon YAML file (entity → canonical value → surface forms)."""
        with open(path, encoding="utf-8") as handle:
            return cls(yaml.safe_load(handle))

    def extract(self, text: str) -> list[Entity]:
        """All entities in `text`, in text order.

        Args:
            text: the customer's message.

        Returns:
            Non-overlapping entities: lexicon values, ``amount`` (a decimal string),
            ``loan_term`` (whole years) and numeric ``period`` values (``last_N_days``).
        """
        found: list[Entity] = []

        def free(start: int, end: int) -> bool:
            return all(e.end <= start or end <= e.start for e in found)

        for span, value in _numeric_periods(text):
            found.append(Entity("period", value, *span))
        for pattern, entity, value in self._patterns:
            for m in pattern.finditer(text):
                if free(m.start(), m.end()):
                    found.append(Entity(entity, value, m.start(), m.end()))
        for span, years in _loan_terms(text):
            if free(*span):
                found.append(Entity("loan_term", str(years), *span))
        for amount in find_amounts(text):
            if free(amount.start, amount.end):
                found.append(
                    Entity("amount", str(amount.value), amount.start, amount.end)
                )
        return sorted(found, key=lambda e: e.start)


def find_recipients(text: str) -> list[Entity]:
    """Payee names around a transfer verb ("给张伟转五千", "send 500 to Alice").

    Args:
        text: a transfer request or an answer to "who should receive it?".

    Returns:
        ``recipient`` entities whose value is the name as written.
    """
    found: list[Entity] = []
    for pattern in (_RECIPIENT_ZH, _RECIPIENT_EN):
        for m in pattern.finditer(text):
            name = m.group("name").strip()
            first = name.lower().split()[0] if name.split() else ""
            if not name or name.lower() in _NOT_A_NAME or first in _NOT_A_NAME - {"my"}:
                continue
            if any(e.start < m.end("name") and m.start("name") < e.end for e in found):
                continue
            found.append(
                Entity("recipient", name, m.start("name"), m.start("name") + len(name))
            )
    return found


def _number(token: str) -> int | None:
    return int(token) if token.isdigit() else chinese_to_int(token)


def _loan_terms(text: str) -> Iterable[tuple[tuple[int, int], int]]:
    for pattern in (_TERM_ZH, _TERM_EN):
        for m in pattern.finditer(text):
            years = _number(m.group("n"))
            # 近3年 is a period and 2026年 a date; a loan term is 1-30 whole years.
            if (
                years
                and 1 <= years <= MAX_LOAN_TERM_YEARS
                and text[max(0, m.start() - 1) : m.start()] not in {"近", "前"}
            ):
                yield (m.start(), m.end()), years


def _numeric_periods(text: str) -> Iterable[tuple[tuple[int, int], str]]:
    for pattern in (_PERIOD_ZH, _PERIOD_EN):
        for m in pattern.finditer(text):
            count = _number(m.group("n"))
            unit = m.group("u").lower().rstrip("s")
            if count:
                days = count * _DAYS_PER_UNIT[unit]
                yield (m.start(), m.end()), f"last_{days}_days"
