"""Checks on a model's answer before a customer sees it.

An answer is refused when it promises returns, tells the customer to move money, gives
a way to reach someone that the retrieved passages do not give (a link, phone number,
e-mail address, messenger id or account number: the shape of a phishing line), repeats
the customer's personal data, quotes a rate, fee or amount that is not in the passages,
or comes back in the wrong language. Refused answers are replaced by the passage itself
or an apology.
"""

from __future__ import annotations

import re
import unicodedata
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

# --- contacts ----------------------------------------------------------------------
# Top-level domains of links in phishing texts and of the usual link shorteners
# (bit.ly, t.cn, is.gd, goo.gl, suo.im).
_ASCII_TLDS = (
    "com|cn|net|org|info|biz|top|xyz|vip|club|shop|site|online|app|io|co|cc|me|ly|"
    "gl|gd|im|tk|ml|ga|cf|gq|tv|ws|hk|tw|mo|uk|us|ru|in|la|link|live|pro|icu|work|"
    "wang|ink|fun|store|tech|asia|mobi|cloud|bank|money|finance"
)
# Chinese ones only after a real dot: "。中国人民银行" is a sentence, not a link.
_TLDS = _ASCII_TLDS + "|中国|公司|网络"
# Dots written so that a filter misses them: example[.]com, example(dot)com, example
# dot com, 例子点com, demobank。com (full-width dots are folded by NFKC first).
_HIDDEN_DOT = re.compile(
    r"\s*(?:\[\.\]|\(\.\)|\[dot\]|\(dot\)|\{dot\})\s*"
    r"|\s+dot\s+(?=[a-z])"
    rf"|(?:点|。)(?=(?:{_ASCII_TLDS})(?![a-z]))",
    re.IGNORECASE,
)
_SCHEME = re.compile(r"\b(?:h[tx]{2}ps?|ftp)\s*[:：]\s*/{2}|:/{2}", re.IGNORECASE)
# A label is Latin letters, digits and dashes, or Chinese (例子.com); the match may
# take in Chinese words glued in front of a link ("访问例子.com"): still a link.
_DOMAIN = re.compile(
    rf"(?:(?:[a-z0-9-]+|[\u4e00-\u9fff]+)\.)+(?:{_TLDS})(?![a-z0-9])"
    r"|(?<![a-z0-9])www\d?\.[a-z0-9-]+",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"[\w.+-]+\s*(?:@|\[at\]|\(at\))\s*[\w-]+", re.IGNORECASE)
_MESSENGER = (
    r"(?:微信|v信|薇信|威信|扣扣|企鹅号|电报|钉钉|飞书|"
    r"(?<![a-z])(?:wechat|weixin|vx|wx|qq|telegram|whatsapp|skype)(?![a-z]))"
)
_MESSENGER_ID = re.compile(
    # an id after a colon ("微信：demobank"), or an id with a digit or underscore
    rf"{_MESSENGER}\s*(?:号码?|群|id|账号|帐号)?\s*"
    r"(?:[:：=]\s*(?P<id>[a-z0-9_-]{5,})"
    r"|(?P<mixed>(?=[a-z0-9_-]{5,})[a-z0-9-]*[\d_][a-z0-9_-]*))",
    re.IGNORECASE,
)
_ADD_ME = re.compile(
    rf"加\s*(?:我|我们|客服|专员|经理|老师|助理)?\s*的?\s*{_MESSENGER}|"
    rf"\badd\s+(?:me|us|our\s+\w+)\s+on\s+{_MESSENGER}",
    re.IGNORECASE,
)
# Numbers that are not contacts: dates (2026-11-25), amounts (20,000; 1.10; 5万元;
# ¥500) and percentages. They are blanked before digit runs are read.
_NOT_A_CONTACT = re.compile(
    r"(?<!\d)(?:19|20)\d\d[-/](?:0?[1-9]|1[0-2])(?:[-/](?:0?[1-9]|[12]\d|3[01]))?(?!\d)"
    r"|\d{1,3}(?:,\d{3})+(?:\.\d+)?"
    r"|(?<![\d.])\d+\.\d{1,2}(?![\d.])"
    r"|\d+(?:\.\d+)?\s*(?:%|‰|元|块|万|亿|千|百|yuan|rmb|cny)"
    r"|(?:[¥$]|rmb|cny|usd)\s?\d+",
    re.IGNORECASE,
)
# Digit runs with the separators people put in phone and account numbers; brackets
# only around an area code ("(021) 6888-1234"), so "9588（24 小时）" ends at 9588.
_DIGIT_GROUP = r"(?:\(\d{1,4}\)|\d)"
_DIGIT_RUN = re.compile(rf"{_DIGIT_GROUP}(?:[ \-–—./]{{0,2}}{_DIGIT_GROUP})+")
CONTACT_MIN_DIGITS = 5  # 96110, 95588 and QQ numbers have five; 110 and 120 are free

# --- personal data ------------------------------------------------------------------
# The placeholders of actions.pii and actions.llm.prompts, and masked numbers.
_PLACEHOLDER = re.compile(
    r"\[(?:CARD|ACCOUNT|PHONE|ID|EMAIL|NAME|AMOUNT|TAIL|omitted)\b[^\]]*\]",
    re.IGNORECASE,
)
_MASKED = re.compile(
    r"\*{2,}\s?\d{2,4}"
    r"|(?:尾号|末四位|后四位|末位)\s*(?:是|为)?\s*\d{3,4}"
    r"|\b(?:ending|last\s+(?:4|four)(?:\s+digits)?)(?:\s+(?:in|is|are))?\s*\d{3,4}",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _figures(text: str) -> set[str]:
    return {
        re.sub(r"[\s,￥¥$％]", "", m).replace("块", "元") for m in _FIGURE.findall(text)
    }


def _normal(text: str) -> str:
    """Full-width letters, digits, dots and @ folded (NFKC); hidden dots made dots."""
    return _HIDDEN_DOT.sub(".", unicodedata.normalize("NFKC", text))


def _phone_key(digits: str) -> str:
    """One spelling of a number: without +86/0086 and trunk zeros (021 = +86 21)."""
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) >= 12:
        digits = digits[2:]
    return digits.lstrip("0")


def _contacts(text: str) -> set[str]:
    """Every way to reach someone in a text, each in one canonical spelling."""
    text = _normal(text)
    found = {"link:" + m.group().lower() for m in _SCHEME.finditer(text)}
    found |= {"domain:" + m.group().lower() for m in _DOMAIN.finditer(text)}
    found |= {"email:" + re.sub(r"\s", "", m.group()) for m in _EMAIL.finditer(text)}
    for m in _MESSENGER_ID.finditer(text):
        found.add("id:" + (m.group("id") or m.group("mixed")).lower())
    found |= {"add:" + m.group().lower() for m in _ADD_ME.finditer(text)}
    blanked = _NOT_A_CONTACT.sub(lambda m: "#" * len(m.group()), text)
    for m in _DIGIT_RUN.finditer(blanked):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) >= CONTACT_MIN_DIGITS:
            found.add("number:" + _phone_key(digits))
    return found


def _number_key(token: str) -> str:
    token = token.replace(",", "")
    return token.rstrip("0").rstrip(".") if "." in token else token


def _repeats(answer: str, term: str, grounded: str) -> bool:
    """Whether the answer holds a personal term that the passages do not hold."""
    if re.fullmatch(r"[\d,]+(?:\.\d+)?", term):
        key = _number_key(term)
        in_answer = {_number_key(t) for t in _NUMBER.findall(answer)}
        in_passages = {_number_key(t) for t in _NUMBER.findall(grounded)}
        return key in in_answer and key not in in_passages
    if term.isascii():
        pattern = re.compile(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", re.I)
        return bool(pattern.search(answer)) and not pattern.search(grounded)
    return term in answer and term not in grounded


def _personal(answer: str, passages: str, personal: Sequence[str]) -> bool:
    if _PLACEHOLDER.search(answer):
        return True
    if any(m.group() not in passages for m in _MASKED.finditer(answer)):
        return True
    return any(_repeats(answer, t, passages) for t in personal if len(t) >= 2)


def check_answer(
    answer: str,
    language: str,
    passages: Sequence[str],
    personal: Sequence[str] = (),
) -> str | None:
    """Return why the answer must not be shown, or None when it may.

    Args:
        answer: the model's text.
        language: the customer's language (``zh``/``en``).
        passages: the retrieved passages the answer had to rely on.
        personal: the customer's names, account figures and number tails
            (`PersonalData.terms`); an answer must not repeat them.

    Returns:
        ``promise``, ``moves_money``, ``contact``, ``personal_data``,
        ``invented_figure``, ``wrong_language``, ``empty`` or None.
    """
    if not answer or not answer.strip():
        return "empty"
    if _PROMISES.search(answer):
        return "promise"
    if _MOVE_MONEY.search(answer):
        return "moves_money"
    grounded = " ".join(passages)
    if _contacts(answer) - _contacts(grounded):
        return "contact"
    if _personal(unicodedata.normalize("NFKC", answer), grounded, personal):
        return "personal_data"
    if any(f not in _figures(grounded) for f in _figures(answer)):
        return "invented_figure"
    if written_language(answer) not in (None, language):
        return "wrong_language"
    return None
