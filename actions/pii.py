"""Personal data in free text: find and mask it, in linear time whatever the text.

Bank cards, mainland ID numbers, mobile numbers, e-mail addresses and account numbers,
in Chinese or English, however the digits are typed. Rules: the comment below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Used for every transcript an agent sees, the tracker store, every log record, LLM
# prompts and risk excerpts, on the server's event loop: so every step is linear. The
# regexes that scan the whole text repeat only single character classes or bounded
# groups (nothing backtracks over an unbounded run); Python code looks only at runs of
# 11+ digit-like characters and at "@domain" candidates.
#
# How numbers are read (tests/evaluation/pii_cases.yml pins each rule):
# - Digits are ASCII, full-width (０-９) or Chinese numerals (〇零○ 一幺 二 … 九).
#   十百千万亿 and 两 are no digits but units, so an amount written in Chinese
#   ("一万二千", "三千五百元", "两万") never forms a digit string.
# - Invisible characters (zero-width space/joiners, word joiner, BOM, soft hyphen,
#   bidi marks) are ignored inside numbers and e-mail local parts and domain labels.
# - Digit groups join into one number across 1-3 blanks (space, tab, NBSP, U+3000 …),
#   a dash with up to two blanks each side (ASCII, Unicode or full-width dashes), or
#   one of ". , / _" (ASCII or full-width; not the Chinese comma "，", which separates
#   clauses). Across a dash both groups need 2+ digits, across ". , / _" 3+, the last
#   group of the run excepted: lists ("1,2,3", "1-2-3") and versions do not join,
#   "86-138…" and "6214.8300.9876.5432.16" do.
# - Cut out of a run before it is read, as no numbers: amounts with thousands commas
#   ("1,234,567", "5,000.00"), dates Y-M-D / D-M-Y with one repeated separator
#   (- / . _), dotted versions, IP addresses and decimals (any IPv4 address; else 12
#   digits at most, groups of 6 at most, a group of 1-2 digits or all groups of 1-3,
#   and not a mobile number's 11 digits).
# - What is left is read as a whole: ID (17 digits and an ISO 7064 check character),
#   card (16-19 digits, Luhn), phone (11 digits 1[3-9]…, optionally after 86 or 0086);
#   else as several of those typed one after another; else an account (12+ digits).
# - A number glued to a Latin letter ("ICBC6222…", "SO2026…") is a reference code,
#   masked only when it checks out as an ID, a card or a phone.
# - Chinese numerals at the ends of a number often begin or end a word ("一直", "一下"):
#   up to two are dropped when the rest is a card, ID or phone, or when the number
#   also has Arabic digits.
# - A run of digits and separators longer than 256 characters is no identifier anyone
#   types: it is masked whole, as an account, without being read.

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_LUHN_DOUBLED = bytes.maketrans(b"0123456789", b"0246813579")  # digit sum of 2d
ACCOUNT_MIN_DIGITS = 12  # shorter runs are amounts, dates or order numbers
_MIN_DIGITS = 11  # the shortest kind: a mobile number
_MAX_RUN = 256  # a longer run is masked whole, unread (see the module docstring)
_MAX_SPLIT_GROUPS = 8  # "+86 139 1234 5678 6228 4800 1234 5671": two numbers at most

# Character classes of the text as typed.
_ARABIC = "0-9\uff10-\uff19"
_CHINESE = "〇零○一幺二三四五六七八九"
_BLANKS = " \t\u00a0\u2000-\u200a\u202f\u205f\u3000"
_DASHES = "\\-\u2010-\u2015\u2212\ufe63\uff0d"
_TIGHT = "._/,\uff0e\uff0f\uff3f"
_INVISIBLE = "\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"

# A candidate: a digit, then 10+ digits, separators or invisible characters. The
# repeat is one character class, so the search is linear and runs at C speed.
_RUN = re.compile(
    f"[{_ARABIC}{_CHINESE}]"
    f"[{_ARABIC}{_CHINESE}{_BLANKS}{_DASHES}{_TIGHT}{_INVISIBLE}]{{10,}}"
)
# Anchored with .match: one pass, however few digits the run holds.
_TWELVE_DIGITS = re.compile(f"(?:[^{_ARABIC}{_CHINESE}]*[{_ARABIC}{_CHINESE}]){{12}}")
_HAS_CHINESE = re.compile(f"[{_CHINESE}]")
_HAS_PUNCTUATION = re.compile(r"[-/._,]")
_LATIN_LETTERS = frozenset(
    "".join(map(chr, [*range(0x41, 0x5B), *range(0x61, 0x7B)]))
    + "".join(map(chr, [*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]))
)
_CHINESE_SET = frozenset(_CHINESE)
_INVISIBLE_SET = frozenset(
    "\u00ad\u034f\u180e\ufeff"
    + "".join(map(chr, [*range(0x200B, 0x2010), *range(0x202A, 0x202F)]))
    + "".join(map(chr, range(0x2060, 0x2065)))
)
_CHECK_X = frozenset("Xx\uff38\uff58")
_PLUS = frozenset("+\uff0b")

# A run, normalised one character for one (so offsets stay put): ASCII digits, " "
# for blanks, "-" for dashes, "\0" for invisible characters.
_TO_ASCII = {
    **{chr(0xFF10 + i): str(i) for i in range(10)},
    **{
        ch: str(i)
        for i, chars in enumerate(
            ("〇零○", "一幺", "二", "三", "四", "五", "六", "七", "八", "九")
        )
        for ch in chars
    },
    **{ch: " " for ch in "\t\u00a0\u202f\u205f\u3000"},
    **{chr(c): " " for c in range(0x2000, 0x200B)},
    **{chr(c): "-" for c in range(0x2010, 0x2016)},
    "\u2212": "-",
    "\ufe63": "-",
    "\uff0d": "-",
    "\uff0e": ".",
    "\uff0f": "/",
    "\uff3f": "_",
    **{ch: "\0" for ch in _INVISIBLE_SET},
}
_TO_ASCII_ITEMS = tuple(_TO_ASCII.items())
_DIGIT_OF = {
    **{str(i): str(i) for i in range(10)},
    **{k: v for k, v in _TO_ASCII_ITEMS if v.isdigit()},
}
_TRAILING = " \t-._/," + "".join(k for k, v in _TO_ASCII_ITEMS if not v.isdigit())


# On a normalised run. A date, amount or version must not go on through its own
# separator ("2026-11-25-0001" is no date), but may touch another one: a range
# "2026.11.01-2026.11.25" or "12,345-23,456" is two of them.
def _edged(pattern: str, separators: str) -> str:
    return (
        f"(?<![0-9])(?<![0-9][{separators}]){pattern}(?![0-9])(?![{separators}][0-9])"
    )


_DAY = r"(?:0?[1-9]|[12][0-9]|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)[0-9]{2}"
_DATES = "|".join(
    _edged(form, sep)
    for sep in ("-", "/", r"\.", "_")
    for form in (f"{_YEAR}{sep}{_MONTH}{sep}{_DAY}", f"{_DAY}{sep}{_DAY}{sep}{_YEAR}")
)
_NOT_A_NUMBER = re.compile(
    "(?P<amount>"
    + _edged(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]{1,2})?", ",.")
    + f")|(?P<date>{_DATES})|(?P<dotted>"
    + _edged(r"[0-9]+(?:\.[0-9]+)+", ".")
    + ")",
    re.ASCII,
)
_GROUP = re.compile(r"[0-9][0-9\0]*", re.ASCII)
_DASH_GAP = re.compile(r" {0,2}- {0,2}", re.ASCII)
_PHONE = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}", re.ASCII)

# E-mail: "@domain" first (a literal, so text without "@" is skipped at C speed), then
# the local part, read backwards over at most 65 characters: a bounded scan per "@".
_EMAIL_DOMAIN = re.compile(
    f"@(?:[A-Za-z0-9{_INVISIBLE}-]{{1,63}}\\.){{1,16}}[A-Za-z]{{2,63}}"
)
_LOCAL_REVERSED = re.compile(f"[A-Za-z0-9._%+{_INVISIBLE}-]{{1,65}}")
_LOCAL_MAX = 64  # RFC 5321
_DOMAIN_MAX = 255


@dataclass(frozen=True)
class PiiMatch:
    """A piece of personal data in a text."""

    kind: str  # card, id, phone, email, account
    start: int
    end: int


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    if not digits.isascii():
        digits = "".join(str(int(d)) for d in digits)
    # Byte sums: the masker checks every 16-19 digit run, so this is a hot path.
    data = digits.encode()
    total = sum(data[-1::-2]) + sum(data[-2::-2].translate(_LUHN_DOUBLED))
    total -= 48 * len(data)
    return total % 10 == 0


def id_number_ok(value: str) -> bool:
    """Mainland resident ID: 17 digits and a check character (ISO 7064 MOD 11-2)."""
    if not re.fullmatch(r"\d{17}[\dXx]", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == value[-1].upper()


def find_pii(text: str) -> list[PiiMatch]:
    """All personal data in `text`, in text order, without overlaps.

    Linear in the length of `text`, whatever its shape.

    Args:
        text: any customer or agent message.

    Returns:
        Matches of kind ``card``, ``id``, ``phone``, ``email`` or ``account``, with
        offsets into `text`.
    """
    return [PiiMatch(kind, start, end) for kind, start, end in _find(text)]


def mask_pii(text: str) -> str:
    """Replace personal data: ``6222…1234`` → ``[CARD ****1234]``, IDs → ``[ID]``."""
    if not text:
        return text
    out, last = [], 0
    for kind, start, end in _find(text):
        out.append(text[last:start])
        out.append(_label(kind, text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def _find(text: str) -> list[tuple[str, int, int]]:
    """`find_pii` as (kind, start, end) tuples."""
    if not text:
        return []
    emails = _find_emails(text) if "@" in text else []
    return _merge(emails, _find_numbers(text))


def _label(kind: str, value: str) -> str:
    """The mask; a number keeps the last four of its digits, read as ASCII."""
    if kind not in ("card", "account", "phone"):
        return f"[{kind.upper()}]"
    stars = "***" if kind == "phone" else "****"
    if value[-4:].isascii() and value[-4:].isdigit():
        return f"[{kind.upper()} {stars}{value[-4:]}]"
    last: list[str] = []
    for ch in reversed(value):  # from the end: a huge run costs no more than a card
        digit = _DIGIT_OF.get(ch)
        if digit is not None:
            last.append(digit)
            if len(last) == 4:
                break
    return f"[{kind.upper()} {stars}{''.join(reversed(last))}]"


def _merge(
    emails: list[tuple[str, int, int]], numbers: list[tuple[str, int, int]]
) -> list[tuple[str, int, int]]:
    """Both lists, sorted; a number inside an e-mail address is part of the address."""
    if not emails:
        return numbers
    kept: list[tuple[str, int, int]] = []
    i = 0
    for number in numbers:
        while i < len(emails) and emails[i][2] <= number[1]:
            i += 1
        if i == len(emails) or number[2] <= emails[i][1]:
            kept.append(number)
    return sorted(emails + kept, key=lambda m: m[1])


def _visible_before(text: str, i: int) -> int:
    """The index of the last visible character before `i`, or -1."""
    i -= 1
    while i >= 0 and text[i] in _INVISIBLE_SET:
        i -= 1
    return i


def _visible_from(text: str, i: int) -> int:
    """The index of the first visible character from `i` on, or len(text)."""
    while i < len(text) and text[i] in _INVISIBLE_SET:
        i += 1
    return i


def _is_latin(text: str, i: int) -> bool:
    return 0 <= i < len(text) and text[i] in _LATIN_LETTERS


def _normalise(run: str) -> str:
    """ASCII digits, blanks, dashes and separators; one character for one."""
    if run.isascii():
        return run.replace("\t", " ") if "\t" in run else run
    for ch, ascii_ch in _TO_ASCII_ITEMS:
        if ch in run:
            run = run.replace(ch, ascii_ch)
    return run


# ---------------------------------------------------------------- e-mail addresses


def _find_emails(text: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    last_end = 0
    for m in _EMAIL_DOMAIN.finditer(text):
        at = m.start()
        if m.end() - at - 1 > _DOMAIN_MAX:
            continue
        # One character more than a local part may have, so an overlong one shows.
        lo = max(last_end, at - _LOCAL_MAX - 1)
        local = _LOCAL_REVERSED.match(text[lo:at][::-1])
        if not local or local.end() > _LOCAL_MAX:
            continue  # no local part, or one longer than RFC 5321 allows
        found.append(("email", at - local.end(), m.end()))
        last_end = m.end()
    return found


# ---------------------------------------------------------------- numbers


def _find_numbers(text: str) -> list[tuple[str, int, int]]:
    found: list[tuple[str, int, int]] = []
    for m in _RUN.finditer(text):
        raw = m.group().rstrip(_TRAILING)
        if len(raw) < _MIN_DIGITS:
            continue
        start = m.start()
        end = start + len(raw)
        if len(raw) > _MAX_RUN:
            if _TWELVE_DIGITS.match(raw):
                found.append(("account", start, end))
            continue
        before = _visible_before(text, start)
        is_glued = _is_latin(text, before)
        x_at = _visible_from(text, end)
        if not (x_at < len(text) and text[x_at] in _CHECK_X) or _is_latin(
            text, _visible_from(text, x_at + 1)
        ):
            x_at = -1
        has_plus = before >= 0 and text[before] in _PLUS
        if raw.isascii() and raw.isdigit():  # one group: most numbers people type
            kind, uses_x = _identify(raw, x_at >= 0)
            if kind is None and not is_glued and len(raw) >= ACCOUNT_MIN_DIGITS:
                kind, uses_x = "account", x_at >= 0
            if kind is not None:
                if kind == "phone" and has_plus and raw.startswith("86"):
                    start = before  # "+86139…": the plus belongs to the number
                found.append((kind, start, x_at + 1 if uses_x else end))
            continue
        run = _Run(raw, is_glued, x_at - start if x_at >= 0 else -1)
        for kind, a, b in run.read():
            if kind == "phone" and a == 0 and has_plus and run.norm.startswith("86"):
                a = before - start  # "+86 139…": the plus belongs to the number
            found.append((kind, start + a, start + b))
    return found


def _identify(digits: str, has_x: bool) -> tuple[str | None, bool]:
    """The kind `digits` (and a check "X" after them if `has_x`) check out as."""
    n = len(digits)
    if has_x and n == 17 and id_number_ok(digits + "X"):
        return "id", True
    if n == 18 and id_number_ok(digits):
        return "id", False
    if 16 <= n <= 19 and luhn_ok(digits):
        return "card", False
    if 11 <= n <= 15 and _PHONE.fullmatch(digits):
        return "phone", False
    return None, False


_Group = tuple[int, int, str]  # start, end (offsets into the run), its ASCII digits


class _Run:
    """A candidate run with separators, Chinese numerals or invisible characters."""

    __slots__ = ("is_glued", "norm", "raw", "x_at")

    def __init__(self, raw: str, is_glued: bool, x_at: int) -> None:
        self.raw = raw
        self.norm = _normalise(raw)
        self.is_glued = is_glued  # a Latin letter right before it
        self.x_at = x_at  # offset of an ID check "X" right after it, or -1

    def read(self) -> list[tuple[str, int, int]]:
        """The numbers in the run: (kind, start, end), offsets into the run."""
        norm = self.norm
        has_invisible = "\0" in norm
        out: list[tuple[str, int, int]] = []
        for lo, hi in self._pieces():
            groups = [
                (m.start(), m.end(), m.group().replace("\0", ""))
                if has_invisible
                else (m.start(), m.end(), m.group())
                for m in _GROUP.finditer(norm, lo, hi)
            ]
            for chain in self._chains(groups, has_invisible):
                if sum(len(group[2]) for group in chain) >= _MIN_DIGITS:
                    is_glued = self.is_glued and chain[0][0] == 0
                    out.extend(self._classify(chain, is_glued))
        return out

    def _pieces(self) -> list[tuple[int, int]]:
        """The run without its amounts, dates and versions."""
        norm = self.norm
        if not _HAS_PUNCTUATION.search(norm):
            return [(0, len(norm))]
        # Read without invisible characters, so none can end a date or an amount early
        # ("1300\u200b000.0000" is no version "000.0000"); offsets map back.
        visible, where = norm, None
        if "\0" in norm:
            visible = norm.replace("\0", "")
            where = [i for i, ch in enumerate(norm) if ch != "\0"]
        pieces, lo = [], 0
        for m in _NOT_A_NUMBER.finditer(visible):
            if m.group("dotted") and not _is_version(m.group("dotted")):
                continue
            start, end = m.span()
            if where is not None:
                start, end = where[start], where[end - 1] + 1
            pieces.append((lo, start))
            lo = end
        pieces.append((lo, len(norm)))
        return pieces

    def _chains(self, groups: list[_Group], has_invisible: bool) -> list[list[_Group]]:
        """Digit groups, split where the gap between two is no separator."""
        chains: list[list[_Group]] = []
        last = len(groups) - 1
        for i, group in enumerate(groups):
            if i:
                prev = groups[i - 1]
                gap = self.norm[prev[1] : group[0]]
                if has_invisible:
                    gap = gap.replace("\0", "")
                if _joins(gap, len(prev[2]), len(group[2]), is_last=i == last):
                    chains[-1].append(group)
                    continue
            chains.append([group])
        return chains

    def _classify(
        self, chain: list[_Group], is_glued: bool
    ) -> list[tuple[str, int, int]]:
        """One chain of groups: an ID, card or phone, several of them, or an account."""
        digits = "".join(group[2] for group in chain)
        has_x = self.x_at >= 0 and chain[-1][1] == len(self.norm)
        start, end = chain[0][0], chain[-1][1]
        kind, uses_x = _identify(digits, has_x)
        if kind:
            return [self._match(kind, start, end, uses_x)]
        positions = chinese = None
        if _HAS_CHINESE.search(self.raw, start, end):
            norm = self.norm
            positions = [p for a, b, _ in chain for p in range(a, b) if norm[p] != "\0"]
            chinese = [self.raw[p] in _CHINESE_SET for p in positions]
            for head, tail in ((0, 1), (0, 2), (1, 0), (2, 0), (1, 1), (1, 2), (2, 1)):
                if not (all(chinese[:head]) and all(chinese[len(chinese) - tail :])):
                    continue
                kind, uses_x = _identify(
                    digits[head : len(digits) - tail], has_x and not tail
                )
                if kind:
                    a, b = positions[head], positions[-1 - tail] + 1
                    return [self._match(kind, a, b, uses_x)]
        if 2 <= len(chain) <= _MAX_SPLIT_GROUPS:
            split = self._split(chain, is_glued, has_x)
            if split:
                return split
        if is_glued:  # the first group belongs to the reference code
            return self._classify(chain[1:], False) if len(chain) > 1 else []
        head = tail = 0
        if positions and chinese and not all(chinese):
            head, tail = _chinese_end(chinese), _chinese_end(chinese[::-1])
            start, end = positions[head], positions[-1 - tail] + 1
        if len(digits) - head - tail < ACCOUNT_MIN_DIGITS:
            return []
        return [self._match("account", start, end, has_x and not tail)]

    def _split(
        self, chain: list[_Group], is_glued: bool, has_x: bool
    ) -> list[tuple[str, int, int]]:
        """Numbers typed one after another: most IDs/cards/phones, then fewest parts.

        Args:
            chain: the digit groups, two or more.
            is_glued: the first group is glued to a letter, so it starts no account.
            has_x: an ID check "X" follows the last group.

        Returns:
            The matches, or [] unless the best split has two or more parts and at
            least one card, ID or phone.
        """
        k = len(chain)
        group_digits = [group[2] for group in chain]
        # best[j] for groups [0, j): (identifiers, -parts, previous cut, kind, uses_x)
        best: list[tuple[int, int, int, str, bool] | None] = [None] * (k + 1)
        best[0] = (0, 0, -1, "", False)
        for j in range(1, k + 1):
            for i in range(j):
                prev = best[i]
                if prev is None:
                    continue
                digits = "".join(group_digits[i:j])
                kind, uses_x = _identify(digits, has_x and j == k)
                if kind is None:
                    if len(digits) < ACCOUNT_MIN_DIGITS or (is_glued and i == 0):
                        continue
                    kind, uses_x = "account", has_x and j == k
                score = (prev[0] + (kind != "account"), prev[1] - 1)
                current = best[j]
                if current is None or score > current[:2]:
                    best[j] = (*score, i, kind, uses_x)
        last = best[k]
        if last is None or last[0] == 0 or last[1] > -2:
            return []
        out, j = [], k
        while j:
            _, _, i, kind, uses_x = best[j]  # type: ignore[misc]
            out.append(self._match(kind, chain[i][0], chain[j - 1][1], uses_x))
            j = i
        return out[::-1]

    def _match(self, kind: str, a: int, b: int, uses_x: bool) -> tuple[str, int, int]:
        return kind, a, self.x_at + 1 if uses_x else b


def _joins(gap: str, left: int, right: int, is_last: bool) -> bool:
    """Whether `gap` between groups of `left` and `right` digits is a separator."""
    if not gap:  # only invisible characters between them
        return True
    if gap.isspace():
        return len(gap) <= 3
    if _DASH_GAP.fullmatch(gap):
        return left >= 2 and (right >= 2 or is_last)
    if len(gap) == 1 and gap in "._/,":
        return left >= 3 and (right >= 3 or is_last)
    return False


def _is_version(dotted: str) -> bool:
    """``3.6.21``, ``192.168.1.1``, ``10.0.19045.2965``: no card, phone or account.

    An IPv4 address is one, even when its digits could be a phone number (addresses
    fill the logs); other dotted digits that read as a mobile number are a phone.
    """
    parts = dotted.split(".")
    if len(parts) == 4 and all(len(part) <= 3 and int(part) <= 255 for part in parts):
        return True
    if _PHONE.fullmatch(dotted.replace(".", "")):
        return False
    sizes = [len(part) for part in parts]
    return (
        sum(sizes) <= ACCOUNT_MIN_DIGITS
        and max(sizes) <= 6
        and (min(sizes) <= 2 or max(sizes) <= 3)
    )


def _chinese_end(chinese: list[bool]) -> int:
    """How many Chinese numerals (two at most) start a number that also has Arabic."""
    n = 0
    while n < len(chinese) and chinese[n]:
        n += 1
    return n if n <= 2 else 0
