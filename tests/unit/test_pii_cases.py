"""The PII case table in tests/evaluation/pii_cases.yml, run against actions.pii.

Also property tests: generated card, phone and ID numbers, typed with every separator,
invisible character, full-width digit and Chinese numeral the masker claims to read,
must never survive masking; generated amounts, dates and versions must pass through.
What counts as personal data is derived here, independently of the masker: from the
case (``text`` against ``masked``) or from the generator.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actions.pii import find_pii, mask_pii

CASES_FILE = Path(__file__).resolve().parents[1] / "evaluation" / "pii_cases.yml"
CASES: list[dict] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))
KINDS = {"card", "id", "phone", "email", "account"}
# A mask label keeps at most the last four digits; six in a row would be a leak.
LEAK_WINDOW = 6
LABEL = re.compile(
    r"\[(?:(?P<kind>CARD|ACCOUNT) \*{4}(?P<last4>\d{4})"
    r"|(?P<phone>PHONE) \*{3}(?P<phone_last4>\d{4})|ID|EMAIL)\]"
)
# Derandomised and without an example database: the same examples on every run and
# machine, and no .hypothesis/ directory in the working tree.
PROPERTY = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


# ---------------------------------------------------------------- normalisation
# Written here, not imported, so the test does not trust the masker's own reading.

CHINESE_DIGITS = {
    **dict.fromkeys("〇零○", "0"),
    **dict.fromkeys("一幺", "1"),
    **dict(zip("二三四五六七八九", "23456789", strict=True)),
}
SEPARATORS = set(" \t._/,\u2212．／＿")


def normalise(text: str) -> str:
    """Digits as ASCII; separators, blanks, dashes and invisible characters dropped."""
    out = []
    for ch in text:
        if ch in CHINESE_DIGITS:
            out.append(CHINESE_DIGITS[ch])
        elif unicodedata.decimal(ch, None) is not None:
            out.append(str(unicodedata.decimal(ch)))
        elif ch in SEPARATORS or unicodedata.category(ch) in ("Zs", "Cf", "Pd"):
            continue
        else:
            out.append(ch)
    return "".join(out)


def digits_of(text: str) -> str:
    return re.sub(r"[^0-9]", "", normalise(text))


def assert_no_leak(personal: str, masked: str) -> None:
    """No six digits in a row of `personal` are left in `masked`, however retyped."""
    digits, leftovers = digits_of(personal), normalise(masked)
    for i in range(len(digits) - LEAK_WINDOW + 1):
        window = digits[i : i + LEAK_WINDOW]
        assert window not in leftovers, f"{window} of {personal!r} in {masked!r}"


def luhn(digits: str) -> bool:
    total = 0
    for i, d in enumerate(int(ch) for ch in reversed(digits)):
        total += (d * 2 - 9 if d > 4 else d * 2) if i % 2 else d
    return total % 10 == 0


def id_check(first17: str) -> str:
    weights = [2 ** (17 - i) % 11 for i in range(17)]
    return "10X98765432"[
        sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11
    ]


# ---------------------------------------------------------------- the case table


def _case_id(case: dict) -> str:
    return f"{CASES.index(case):03d}-{'neg' if not case['kinds'] else '+'.join(case['kinds'])}"


def personal_data(case: dict) -> list[tuple[re.Match, str]]:
    """What the case says is personal data: the text its labels stand in for."""
    labels = list(LABEL.finditer(case["masked"]))
    literals, last = [], 0
    for label in labels:
        literals.append(re.escape(case["masked"][last : label.start()]))
        last = label.end()
    literals.append(re.escape(case["masked"][last:]))
    m = re.fullmatch("(.+?)".join(literals), case["text"], re.DOTALL)
    assert m, f"masked {case['masked']!r} does not fit text {case['text']!r}"
    return list(zip(labels, m.groups(), strict=True))


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_case(case: dict) -> None:
    text = case["text"]
    assert mask_pii(text) == case["masked"]
    assert [m.kind for m in find_pii(text)] == case["kinds"]


def test_table_is_well_formed_and_big_enough() -> None:
    assert all(set(case) == {"text", "masked", "kinds"} for case in CASES)
    assert all(set(case["kinds"]) <= KINDS for case in CASES)
    negatives = [case for case in CASES if not case["kinds"]]
    assert all(case["masked"] == case["text"] for case in negatives)
    assert len(CASES) >= 160
    assert len(negatives) >= 60
    assert len({case["text"] for case in CASES}) == len(CASES), "duplicate text"


@pytest.mark.parametrize("case", [c for c in CASES if c["kinds"]], ids=_case_id)
def test_table_numbers_are_what_their_labels_say(case: dict) -> None:
    """Cards pass Luhn, IDs their checksum, labels show the last four digits."""
    pieces = personal_data(case)
    assert len(pieces) == len(case["kinds"])
    for (label, value), kind in zip(pieces, case["kinds"], strict=True):
        digits = digits_of(value)
        shown = label.group("last4") or label.group("phone_last4")
        if shown:
            assert shown == digits[-4:], value
        if kind == "card":
            assert 16 <= len(digits) <= 19 and luhn(digits), value
        elif kind == "id":
            check = normalise(value)[-1].upper()
            assert id_check(digits[:17]) == check.replace("Ｘ", "X"), value


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_masking_is_idempotent(case: dict) -> None:
    masked = mask_pii(case["text"])
    assert mask_pii(masked) == masked
    assert find_pii(masked) == []


@pytest.mark.parametrize("case", [c for c in CASES if c["kinds"]], ids=_case_id)
def test_no_digits_of_the_personal_data_survive(case: dict) -> None:
    masked = mask_pii(case["text"])
    for _, value in personal_data(case):  # what the case says, not what was found
        assert value not in masked
        assert_no_leak(value, masked)


# ---------------------------------------------------------------- generated numbers

ASCII_DIGITS = "0123456789"
FULL_WIDTH = "０１２３４５６７８９"
CHINESE_FORMS = ("〇零", "一幺", "二", "三", "四", "五", "六", "七", "八", "九")
BLANK_GAPS = (" ", "  ", "   ", "\t", "\u00a0", "\u3000", "\u202f", " \t")
DASH_GAPS = ("-", " - ", "–", "—", "－", "−", "﹣", "‐")
TIGHT_GAPS = (".", "_", "/", ",", "．", "／", "＿")
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
ZH_WORDS = ("我的卡号是", "请帮我查", "手机", "号码", "谢谢", "麻烦尽快处理", "这张卡")
EN_WORDS = ("my card is", "please call", "number", "thanks", "hi", "the customer said")
assert not set("".join(ZH_WORDS)) & set(CHINESE_DIGITS), "context with numerals"


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    body = draw(st.text(ASCII_DIGITS, min_size=length - 1, max_size=length - 1))
    return next(body + d for d in ASCII_DIGITS if luhn(body + d))


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    second = draw(st.sampled_from("3456789"))
    return "1" + second + draw(st.text(ASCII_DIGITS, min_size=9, max_size=9))


@st.composite
def id_numbers(draw: st.DrawFn) -> str:
    first17 = draw(st.text(ASCII_DIGITS, min_size=17, max_size=17))
    return first17 + id_check(first17)


@st.composite
def groupings(draw: st.DrawFn, length: int, min_group: int) -> list[int]:
    """Group sizes: every group but the last has `min_group`+ digits."""
    sizes, left = [], length
    while left > 0:
        if left <= min_group or draw(st.integers(0, 3)) == 0:
            sizes.append(left)
            break
        size = draw(st.integers(min_group, min(left, 8)))
        sizes.append(size)
        left -= size
    return sizes


@st.composite
def typed(draw: st.DrawFn, number: str) -> str:
    """`number` as someone might type it: forms, groups, separators, invisibles."""
    check = number[-1] if number[-1] == "X" else ""
    digits = number[: len(number) - len(check)]
    script = draw(st.sampled_from(["ascii", "full-width", "mixed", "chinese"]))
    chars = []
    for d in digits:
        i = int(d)
        forms = {
            "ascii": ASCII_DIGITS[i],
            "full-width": FULL_WIDTH[i],
            "mixed": ASCII_DIGITS[i] + FULL_WIDTH[i],
            "chinese": CHINESE_FORMS[i],
        }[script]
        chars.append(draw(st.sampled_from(forms)))
    style = draw(st.sampled_from(["none", "blank", "spoken", "dash", "tight"]))
    if style == "none":
        sizes = [len(chars)]
    elif style == "spoken":  # one digit at a time, as a speech recogniser writes them
        sizes = [1] * len(chars)
    else:
        # Blanks join any groups. Punctuation needs groups of 3+ (4+ for ". , / _",
        # so no thousands grouping or version); the last group may be shorter. A
        # date ("2019-12-25") or an amount cannot form that way.
        sizes = draw(groupings(len(chars), {"blank": 1, "dash": 3, "tight": 4}[style]))
    gaps = {
        "none": ("",),
        "blank": BLANK_GAPS,
        "spoken": (" ",),
        "dash": BLANK_GAPS + DASH_GAPS,
        "tight": (draw(st.sampled_from(TIGHT_GAPS)),),  # one kind for the number
    }[style]
    out, at = [], 0
    for k, size in enumerate(sizes):
        if k:
            out.append(draw(st.sampled_from(gaps)))
        out.append("".join(chars[at : at + size]))
        at += size
    rendered = "".join(out) + draw(st.sampled_from(["X", "x", "Ｘ"])) * bool(check)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(1, len(rendered) - 1))
        rendered = rendered[:at] + draw(st.sampled_from(INVISIBLE)) + rendered[at:]
    return rendered


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A message with 1-3 numbers in Chinese/English context; the numbers as typed."""
    kinds = draw(
        st.lists(st.sampled_from(["card", "phone", "id"]), min_size=1, max_size=3)
    )
    parts, numbers = [], []
    for kind in kinds:
        if kind == "card":
            number = draw(card_numbers())
            if len(number) == 18 and id_check(number[:17]) == number[17]:
                kind = "id"  # an ID first: both checksums hold, 1 in 11 such cards
        elif kind == "phone":
            number = draw(phone_numbers())
        else:
            number = draw(id_numbers())
        text = draw(typed(number))
        if kind == "phone" and draw(st.booleans()):
            text = draw(st.sampled_from(["+86 ", "86-", "+86", "＋８６ "])) + text
        parts.append(draw(st.sampled_from(ZH_WORDS + EN_WORDS)))
        # Glued to a letter or a Chinese character, or apart.
        parts.append(draw(st.sampled_from(["", " ", "：", ":", "，", "\u3000"])))
        parts.append(text)
        parts.append(draw(st.sampled_from([" ", "，", "。", "!", "\n", ". "])))
        numbers.append((kind, text))
    parts.append(draw(st.sampled_from(ZH_WORDS + EN_WORDS)))
    return "".join(parts), numbers


@PROPERTY
@given(messages())
def test_generated_numbers_are_masked_whatever_their_form(
    message: tuple[str, list[tuple[str, str]]],
) -> None:
    text, numbers = message
    masked = mask_pii(text)
    assert [m.kind for m in find_pii(text)] == [kind for kind, _ in numbers], masked
    for kind, typed_number in numbers:
        assert_no_leak(typed_number, masked)
        if kind in ("card", "phone"):
            assert f"{digits_of(typed_number)[-4:]}]" in masked
    assert mask_pii(masked) == masked


# ---------------------------------------------------------------- generated near misses

CHINESE_UNITS = ("", "十", "百", "千")


def chinese_amount(value: int) -> str:
    """`value` in Chinese numerals with units: 12345 → 一万二千三百四十五."""
    sections = []  # groups of four digits, lowest first: 个, 万, 亿
    while value:
        value, section = divmod(value, 10_000)
        sections.append(section)
    out, skipped = "", False
    for i in range(len(sections) - 1, -1, -1):
        section = sections[i]
        if not section:
            skipped = bool(out)
            continue
        if out and (skipped or section < 1_000):
            out += "零"
        words, gap = "", False
        for power in (3, 2, 1, 0):
            d = section // 10**power % 10
            if d:
                words += ("零" if gap else "") + "零一二三四五六七八九"[d]
                words += CHINESE_UNITS[power]
                gap = False
            elif words:
                gap = True
        out += words + ("", "万", "亿")[i]
        skipped = False
    return out or "零"


@st.composite
def amounts(draw: st.DrawFn) -> str:
    value = draw(st.integers(1_000, 10**13))
    text = f"{value:,}"
    if draw(st.booleans()):
        text += f".{draw(st.integers(0, 99)):02d}"
    if draw(st.booleans()):
        text = text.translate(str.maketrans(ASCII_DIGITS, FULL_WIDTH))
    return (
        draw(st.sampled_from(["¥", "￥", "", "CNY ", "$"]))
        + text
        + draw(st.sampled_from(["元", " 元", "", " CNY", "块"]))
    )


@st.composite
def dates(draw: st.DrawFn) -> str:
    y, m, d = (
        draw(st.integers(1990, 2039)),
        draw(st.integers(1, 12)),
        draw(st.integers(1, 28)),
    )
    sep = draw(st.sampled_from("-/._"))
    pad = draw(st.booleans())
    mm, dd = (f"{m:02d}", f"{d:02d}") if pad else (str(m), str(d))
    text = f"{y}{sep}{mm}{sep}{dd}"
    if sep != "_" and draw(st.booleans()):
        text = f"{dd}{sep}{mm}{sep}{y}"
    return text + draw(st.sampled_from(["", " 10:30", " 08:00:00", "日"]))


@st.composite
def versions(draw: st.DrawFn) -> str:
    if draw(st.booleans()):  # an IPv4 address
        return ".".join(str(draw(st.integers(0, 255))) for _ in range(4))
    # A version: "3.6.21", "10.0.19045.2965"; 12 digits at most, as real ones are.
    parts = [str(draw(st.integers(0, 99)))]
    for _ in range(draw(st.integers(1, 3))):
        room = 12 - sum(map(len, parts)) - 1
        if room < 0:
            break
        parts.append(str(draw(st.integers(0, min(20_000, 10 ** (room + 1) - 1)))))
    return ".".join(parts)


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    pieces = draw(
        st.lists(
            st.one_of(
                amounts(),
                dates(),
                versions(),
                st.integers(1, 10**12 - 1).map(chinese_amount).map(lambda s: s + "元"),
                # Short numbers with a unit. Bare ones joined by blanks are read as
                # one number typed in groups: "1000 1000 1000" is an account.
                st.tuples(st.integers(1, 99_999), st.sampled_from("笔次元%期")).map(
                    lambda n_unit: f"{n_unit[0]}{n_unit[1]}"
                ),
            ),
            min_size=1,
            max_size=4,
        )
    )
    # Apart, or as a range: "2026.11.01-2026.11.25", "12,345-23,456".
    joiner = draw(st.sampled_from([" ", "，", " 到 ", " - ", "~", "\n"]))
    return draw(st.sampled_from(ZH_WORDS + EN_WORDS)) + " " + joiner.join(pieces)


@PROPERTY
@given(near_misses())
def test_generated_amounts_dates_and_versions_come_back_unchanged(text: str) -> None:
    assert find_pii(text) == []
    assert mask_pii(text) == text


def test_chinese_amount_helper() -> None:
    assert chinese_amount(12_000) == "一万二千"
    assert chinese_amount(3_500) == "三千五百"
    assert chinese_amount(1_234_567) == "一百二十三万四千五百六十七"
    assert chinese_amount(100_000_001) == "一亿零一"


# ---------------------------------------------------------------- linear time
# Relative, not absolute: the time for 8n characters against the time for n. Linear
# code gives about 8; the quadratic e-mail regex this replaced gave about 64.

SCALE, GROWTH_LIMIT = 8, 24
SHAPES: dict[str, Callable[[int], str]] = {
    "letters": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "digit space": lambda n: ("1 " * n)[:n],
    "digit dash": lambda n: ("1-" * n)[:n],
    "digit dot": lambda n: ("1." * n)[:n],
    "digits, full-width": lambda n: ("1１" * n)[:n],
    "digits, zero-width": lambda n: ("1\u200b" * n)[:n],
    "a@a@": lambda n: ("a@" * n)[:n],
    "a.a.": lambda n: ("a." * n)[:n],
    "@ only": lambda n: "@" * n,
    "local part then @": lambda n: "a" * (n - 12) + "@example.com",
    "Chinese text": lambda n: ("我要查询一下余额，谢谢。" * n)[:n],
    "Chinese numerals": lambda n: ("一二三四五六七八九〇" * n)[:n],
    "10 digits, letter": lambda n: ("1234567890a" * n)[:n],
    "cards, one a line": lambda n: ("6228 4800 1234 5671\n" * n)[:n],
    "e-mail, one a line": lambda n: ("ab@cd.com\n" * n)[:n],
}


def _best_seconds(text: str, repeats: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(repeats):
            mask_pii(text)
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_masking_time_grows_linearly(shape: str) -> None:
    small, large = SHAPES[shape](8_192), SHAPES[shape](8_192 * SCALE)
    growth = _best_seconds(large, 4) / _best_seconds(small, 4 * SCALE) * SCALE
    assert growth < GROWTH_LIMIT, f"{shape}: {growth:.1f}x the time for {SCALE}x text"
