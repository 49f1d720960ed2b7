"""Which language a message is written in: Chinese (the default) or English."""

from __future__ import annotations

import re

SUPPORTED = ("zh", "en")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
# A Chinese word is about two characters long, so two CJK characters weigh as much as
# one Latin word. The message is Chinese when Chinese holds at least half of the words
# (ties go to Chinese, the first language):
# "帮我查一下 mortgage rate" (2.5 vs 2) is Chinese,
# "my 信用卡 limit please" (1.5 vs 3) is English.
CJK_CHARS_PER_WORD = 2
ZH_SHARE = 0.5


def written_language(text: str) -> str | None:
    """Return ``"zh"`` or ``"en"`` by the dominant script, None without any letters.

    "$300", "2w" or an emoji says nothing about the customer's language, so the
    conversation keeps the language it had.
    """
    cjk = len(_CJK.findall(text or ""))
    latin = len(_LATIN_WORD.findall(text or ""))
    if cjk == 0 and (latin == 0 or re.fullmatch(r"[\d\s.,$¥￥kKwW+-]*", text or "")):
        return None
    zh_words = cjk / CJK_CHARS_PER_WORD
    return "zh" if zh_words / (zh_words + latin) >= ZH_SHARE else "en"


def detect_language(text: str, default: str = "zh") -> str:
    """Like `written_language`, with `default` for a message without letters."""
    return written_language(text) or default
