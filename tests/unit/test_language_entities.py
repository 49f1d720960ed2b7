from datetime import date

import pytest

from actions.entities import EntityLexicon
from actions.language import detect_language, written_language
from actions.periods import resolve_period


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("查一下余额", "zh"),
        ("what's my balance", "en"),
        ("帮我查一下 mortgage rate", "zh"),  # 5 CJK characters vs 2 English words
        ("my 信用卡 limit please", "en"),
        ("hi 你好", "zh"),
        ("12345", "zh"),  # no letters at all: the default
        ("", "zh"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize("text", ["$300", "2w", "1.5k", "¥800", "", "  "])
def test_messages_without_words_have_no_language(text: str) -> None:
    assert written_language(text) is None


@pytest.fixture(scope="module")
def lexicon() -> EntityLexicon:
    return EntityLexicon.from_file()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我是首套房", [("home_status", "first", "首套房")]),
        ("那二套房呢?", [("home_status", "second", "二套房")]),
        ("what about second homes?", [("home_status", "second", "second homes")]),
        ("房贷利率多少，贷30年", [("loan_term", "30", "30年")]),
        (
            "first-time buyer, 20-year loan",
            [
                ("home_status", "first", "first-time buyer"),
                ("loan_term", "20", "20-year"),
            ],
        ),
        (
            "上个月在星巴克花了多少",
            [("period", "last_month", "上个月"), ("merchant", "starbucks", "星巴克")],
        ),
        (
            "近3个月餐饮花了多少",
            [("period", "last_90_days", "近3个月"), ("category", "dining", "餐饮")],
        ),
        (
            "储蓄卡丢了",
            [("card_type", "debit", "储蓄卡")],
        ),  # longest form wins over 储蓄
        ("查下活期余额", [("account_type", "current", "活期")]),
        ("I lost both cards", [("card_type", "all", "both cards")]),
        ("给张伟转五千", [("amount", "5000.00", "五千")]),
        ("creditworthiness", []),  # Latin forms match whole words only
    ],
)
def test_lexicon_extraction(
    lexicon: EntityLexicon, text: str, expected: list[tuple[str, str, str]]
) -> None:
    found = [(e.entity, e.value, text[e.start : e.end]) for e in lexicon.extract(text)]
    assert found == expected


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        ("this_month", date(2026, 11, 1), date(2026, 11, 25)),
        ("last_month", date(2026, 10, 1), date(2026, 10, 31)),
        ("today", date(2026, 11, 25), date(2026, 11, 25)),
        ("yesterday", date(2026, 11, 24), date(2026, 11, 24)),
        ("this_week", date(2026, 11, 23), date(2026, 11, 25)),
        ("last_week", date(2026, 11, 16), date(2026, 11, 22)),
        ("last_7_days", date(2026, 11, 19), date(2026, 11, 25)),
        ("last_90_days", date(2026, 8, 28), date(2026, 11, 25)),
        (None, date(2026, 11, 1), date(2026, 11, 25)),
        ("nonsense", date(2026, 11, 1), date(2026, 11, 25)),
    ],
)
def test_resolve_period(period: str | None, start: date, end: date) -> None:
    assert resolve_period(period, date(2026, 11, 25)) == (start, end)


def test_last_month_in_january() -> None:
    assert resolve_period("last_month", date(2027, 1, 10)) == (
        date(2026, 12, 1),
        date(2026, 12, 31),
    )
