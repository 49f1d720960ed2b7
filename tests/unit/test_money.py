from decimal import Decimal

import pytest

from actions.money import chinese_to_int, find_amounts, format_money, parse_decimal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("给张伟转五千", ["5000.00"]),
        ("转2万到我妈那", ["20000.00"]),
        ("1.5k", ["1500.00"]),
        ("不对，是三千", ["3000.00"]),
        ("三千五", ["3500.00"]),
        ("一万二", ["12000.00"]),
        ("两千块", ["2000.00"]),
        ("八百块", ["800.00"]),
        ("¥3,000.50", ["3000.50"]),
        ("2w", ["20000.00"]),
        ("给我妈转1000块钱", ["1000.00"]),
        ("send 500 to Alice", ["500.00"]),
        ("pay my landlord $1,200", ["1200.00"]),
        ("RMB 800", ["800.00"]),
        ("3000 yuan", ["3000.00"]),
        ("two thousand dollars", ["2000.00"]),
        ("make it 250.75", ["250.75"]),
        # not money: terms, periods, dates, counts, percentages, identifiers, filler words
        ("贷款30年", []),
        ("近3个月花了多少", []),
        ("我有两套房", []),
        ("二套", []),
        ("查一下", []),
        ("2025年3月", []),
        ("20 years", []),
        ("5%", []),
        ("卡号6222021234567890123", []),
        ("last 3 months", []),
        ("上个月", []),
    ],
)
def test_find_amounts(text: str, expected: list[str]) -> None:
    assert [str(a.value) for a in find_amounts(text)] == expected


def test_amount_span_excludes_trailing_space() -> None:
    (match,) = find_amounts("send 500 to Alice")
    assert match.text == "500"
    assert (match.start, match.end) == (5, 8)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("五千", 5000),
        ("三千五", 3500),
        ("一万二千三百", 12300),
        ("十", 10),
        ("两万", 20000),
        ("一百零五", 105),
        ("一千零五十", 1050),
        ("三", 3),
        ("abc", None),
        ("", None),
    ],
)
def test_chinese_to_int(text: str, value: int | None) -> None:
    assert chinese_to_int(text) == value


def test_format_money_per_language() -> None:
    assert format_money(Decimal("12345.6"), "zh") == "12,345.60 元"
    assert format_money(Decimal("12345.6"), "en") == "CNY 12,345.60"
    assert format_money(Decimal("0.005"), "en") == "CNY 0.01"  # half up, like a bank


def test_parse_decimal() -> None:
    assert parse_decimal("3000") == Decimal("3000.00")
    assert parse_decimal("1,200.5") == Decimal("1200.50")
    assert parse_decimal("abc") is None
    assert parse_decimal("NaN") is None
