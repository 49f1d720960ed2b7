"""Time of `mask_pii` on 1 MB of adversarial and of realistic text; prints ms per shape.

Masking runs on the Rasa server's event loop for every log record and tracker event, so
it must stay linear whatever the text. Each shape is built to defeat a naive regex
(long runs, separators between every digit, "a@a@…"), plus realistic chat text.

Usage: `PYTHONPATH=. .venv/bin/python bench/masking.py [megabytes]`; not part of
`make test`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actions.pii import find_pii, mask_pii

REPEATS = 3


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def _realistic(size: int, share: float) -> str:
    """Chat messages in Chinese and English, `share` of them with personal data."""
    rng = random.Random(20261125)
    plain = [
        "我要查询一下余额，谢谢。",
        "How do I raise my daily transfer limit?",
        "2026-11-25 转了 5,000.00 元还没到账",
        "年利率3.85%，比上个月高0.1%",
        "app version 3.6.21 keeps crashing",
        "信用卡账单 ¥12,345.67 怎么分期",
        "订单号 A2026112500123 退款进度",
        "借两万块，分十二期",
    ]
    personal = [
        "我的卡号是6228 4800 1234 5671，帮我挂失",
        "call me at +86 139-1234-5678 please",
        "邮箱 zhang.san@example.com 收不到账单",
        "身份证 32010619780214009X 已过期",
        "手机幺三八一二三四五六七八",
        "card 4556\u200b1234\u200b5678\u200b9015 was stolen",
        "账号 6217.0012.3456.7890 转账",
        "卡号６２２８４８００１２３４５６７１",
    ]
    parts, total = [], 0
    while total < size:
        line = rng.choice(personal if rng.random() < share else plain)
        parts.append(line)
        total += len(line) + 1
    return "\n".join(parts)[:size]


def shapes(size: int) -> dict[str, str]:
    """The texts to time, `size` characters each."""
    return {
        "letters": "a" * size,
        "digits": "1" * size,
        "digit space": _repeat("1 ", size),
        "digit dash": _repeat("1-", size),
        "digit dot": _repeat("1.", size),
        "digit comma": _repeat("1,", size),
        "digit tab+NBSP": _repeat("1\t\u00a0", size),
        "digits, full-width": _repeat("1１", size),
        "digits, zero-width": _repeat("1\u200b", size),
        "zero-width only": "\u200b" * size,
        "Chinese numerals": _repeat("一二三四五六七八九〇", size),
        "Chinese text": _repeat("我要查询一下余额，谢谢。", size),
        "a@a@": _repeat("a@", size),
        "a.a.": _repeat("a.", size),
        "@ only": "@" * size,
        "local part then @": "a" * (size - 12) + "@example.com",
        "@ then labels": "x@" + _repeat("a.", size - 2),
        "10 digits, letter": _repeat("1234567890a", size),
        "phones joined by spaces": _repeat("13912345678 ", size),  # one huge run
        "dates, amounts by spaces": _repeat("2026-11-25 5,000.00 ", size),  # one run
        "phones, one a line": _repeat("13912345678\n", size),
        "cards, one a line": _repeat("6228 4800 1234 5671\n", size),
        "dates, amounts a line": _repeat("2026-11-25 5,000.00\n", size),
        "e-mail, one a line": _repeat("ab@cd.com\n", size),
        "realistic chat": _realistic(size, 0.33),
        "realistic chat, sparse": _realistic(size, 0.05),
    }


def best_ms(fn: Callable[[str], object], text: str) -> float:
    """The best of a few runs, in milliseconds."""
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn(text)
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings)


def main(megabytes: float) -> None:
    """Print the masking time of every shape."""
    size = int(megabytes * 1024 * 1024)
    print(f"mask_pii on {size:,} characters, best of {REPEATS} (ms)")
    for name, text in shapes(size).items():
        matches = len(find_pii(text))
        print(f"  {name:26s} {best_ms(mask_pii, text):8.1f}   {matches:7d} matches")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
