"""Checks on a model's answer before a customer sees it.

An answer is refused when it promises returns, quotes a rate, fee or amount that is not
in the retrieved passages, tells the customer to move money, or comes back in the wrong
language. Refused answers are replaced by the passage itself or an apology.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from actions.language import written_language

_PROMISES = re.compile(
    r"保本|保息|稳赚|零风险|无风险|保证收益|收益保证|包赚|"
    r"\bguarantee[ds]?\b|\brisk[- ]free\b|\bno risk\b|\bcan'?t lose\b",
    re.IGNORECASE,
)
_MOVE_MONEY = re.compile(
    r"(把|将)?(钱|资金|存款)(转|汇|打)(到|入|给)|转账到|立即转账|"
    r"\b(transfer|move|send|wire)\s+(your|the)\s+(money|funds|savings)\s+(to|into)\b",
    re.IGNORECASE,
)
_FIGURE = re.compile(r"\d+(?:[.,]\d+)*\s*(?:%|％|‰|元|块|万)|[¥￥$]\s?\d+(?:[.,]\d+)*")


def _figures(text: str) -> set[str]:
    return {
        re.sub(r"[\s,￥¥$％]", "", m).replace("块", "元") for m in _FIGURE.findall(text)
    }


def check_answer(answer: str, language: str, passages: Sequence[str]) -> str | None:
    """Return why the answer must not be shown, or None when it may.

    Args:
        answer: the model's text.
        language: the customer's language (``zh``/``en``).
        passages: the retrieved passages the answer had to rely on.

    Returns:
        ``promise``, ``invented_figure``, ``moves_money``, ``wrong_language``, ``empty``
        or None.
    """
    if not answer or not answer.strip():
        return "empty"
    if _PROMISES.search(answer):
        return "promise"
    if _MOVE_MONEY.search(answer):
        return "moves_money"
    grounded = _figures(" ".join(passages))
    if any(f not in grounded for f in _figures(answer)):
        return "invented_figure"
    if written_language(answer) not in (None, language):
        return "wrong_language"
    return None
