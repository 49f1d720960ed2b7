"""The prompt of a fallback answer: only what the answer needs, masked.

Bank policy and guardrails, the retrieved passages, the customer's own recent messages
and the bot's fact-free replies (knowledge and FAQ answers), trimmed to a budget, and
the language to answer in. Names, account figures and number tails never leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actions.knowledge import Hit
from actions.money import find_amounts, parse_decimal
from actions.pii import mask_pii

MAX_TURNS = 20
HISTORY_BUDGET = 1200  # rough tokens: one per CJK character, one per English word
POLICY = {
    "zh": (
        "你是示范银行的客服助手。只根据下面提供的资料回答，资料里没有的利率、费用、金额一律"
        "不要说；不承诺收益（不说保本、保息、稳赚）；不要让客户把钱转到任何账户；回答不超过"
        "四句话，用中文回答；资料不够时就说不确定，并建议客户说“转人工”。"
    ),
    "en": (
        "You are the Demo Bank's customer-service assistant. Answer only from the "
        "material below; never state a rate, fee or amount that is not in it; never "
        "promise returns; never tell the customer to move money to any account; at "
        "most four sentences, in English; if the material is not enough, say so and "
        'suggest saying "agent".'
    ),
}

# Bot replies that may be sent: they hold no fact about the customer (knowledge-base
# passages, FAQ answers, model answers that passed the guardrails, fixed "I did not
# understand" lines). Every other bot turn is withheld: balances, transactions,
# transfer confirmations and receipts, greetings by name, continuity offers, card
# details, handoff summaries, agents' messages and any reply without a response name
# (fail closed: a new response stays private until it is listed here).
SENDABLE_REPLIES = frozenset(
    {
        "utter_knowledge_answer",
        "utter_llm_answer",
        "utter_default",
        "utter_offer_human",
        "utter_out_of_scope",
        "utter_iamabot",
    }
)
SENDABLE_PREFIXES = ("utter_faq/",)
WITHHELD = "[omitted]"  # stands for a withheld bot turn, so roles still alternate
NAME, AMOUNT, TAIL = "[NAME]", "[AMOUNT]", "[TAIL]"

# mask_pii keeps the last digits ("[CARD ****0128]"); the model needs none of them.
_TAILED_LABEL = re.compile(r"\[(CARD|ACCOUNT|PHONE) \*+\d+\]")
# Masked numbers and tails as customers and replies write them: **** 0123, 尾号 4821.
_MASKED_NUMBER = re.compile(r"\*{2,}\s?(?P<tail>\d{3,4})(?!\d)")
_TAIL_AFTER_WORD = re.compile(
    r"(?P<word>(?:尾号|末四位|后四位|末位)\s*(?:是|为)?\s*|"
    r"\b(?:ending|last\s+(?:4|four)(?:\s+digits)?)(?:\s+(?:in|is|are))?\s*)"
    r"(?P<tail>\d{3,4})(?!\d)",
    re.IGNORECASE,
)
_FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")
# How format_money writes an amount: "28,650.32 元", "CNY 12,480.75".
_MONEY_WRITTEN = re.compile(r"(?<![\d.])\d{1,3}(?:,\d{3})*\.\d{2}(?![\d%％])")
_NAME_KEYS = frozenset({"name", "recipient"})  # response fields that hold a name
_TAIL_KEYS = frozenset({"last4"})


@dataclass(frozen=True)
class PersonalData:
    """What must not leave the process about the customer of one conversation.

    Attributes:
        names: the customer's and their payees' names and aliases.
        figures: money amounts of their accounts (balances, limits, amounts shown).
        tails: last digits of their account and card numbers.
    """

    names: tuple[str, ...] = ()
    figures: frozenset[Decimal] = frozenset()
    tails: frozenset[str] = frozenset()

    def merged(self, other: PersonalData) -> PersonalData:
        """Both sets of personal data."""
        return PersonalData(
            tuple(dict.fromkeys((*self.names, *other.names))),
            self.figures | other.figures,
            self.tails | other.tails,
        )

    def terms(self) -> list[str]:
        """Everything an answer must not repeat, as text (for the guardrails)."""
        return [
            *self.names,
            *(f"{f:f}" for f in sorted(self.figures)),
            *sorted(self.tails),
        ]


def name_variants(names: Iterable[str]) -> tuple[str, ...]:
    """Names and their parts worth masking: "Emma Walker" → Emma Walker, Emma, Walker.

    A single Chinese character (妈) or a two-letter word (Li) would mask ordinary words,
    so parts that short are left out.
    """
    found: list[str] = []
    for name in names:
        name = (name or "").strip()
        for part in [name, *re.split(r"[\s·•.]+", name)]:
            part = part.strip()
            short = len(part) < (3 if part.isascii() else 2)
            if part and not short and part not in found:
                found.append(part)
    return tuple(found)


def is_sendable(event: Mapping[str, Any]) -> bool:
    """Whether a bot turn may go to the model: a listed response, not an agent's."""
    metadata = event.get("metadata") or {}
    response = metadata.get("utter_action")
    if not isinstance(response, str) or "agent" in metadata:
        return False
    return response in SENDABLE_REPLIES or response.startswith(SENDABLE_PREFIXES)


def disclosed(events: Sequence[Mapping[str, Any]]) -> PersonalData:
    """The personal values the bot's withheld replies showed in this conversation.

    A customer who repeats them ("是28,650.32吗?") would otherwise send them on.
    """
    names: list[str] = []
    figures: set[Decimal] = set()
    tails: set[str] = set()
    for event in events:
        if event.get("event") != "bot" or is_sendable(event):
            continue
        metadata = event.get("metadata") or {}
        values = [str(event.get("text") or "")]
        for key, value in metadata.items():
            if not isinstance(value, str | int) or isinstance(value, bool):
                continue
            values.append(str(value))
            if key in _NAME_KEYS and isinstance(value, str):
                names.append(value)
            if key in _TAIL_KEYS:
                tails.add(str(value))
        for value in values:
            for written in _MONEY_WRITTEN.findall(value):
                amount = parse_decimal(written)
                if amount is not None:
                    figures.add(amount)
            for pattern in (_MASKED_NUMBER, _TAIL_AFTER_WORD):
                tails.update(m.group("tail") for m in pattern.finditer(value))
    return PersonalData(name_variants(names), frozenset(figures), frozenset(tails))


def _mask_names(text: str, names: Sequence[str]) -> str:
    for name in sorted(names, key=len, reverse=True):
        if name.isascii():
            pattern = rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])"
            text = re.sub(pattern, NAME, text, flags=re.IGNORECASE)
        else:
            text = text.replace(name, NAME)
    return text


def _mask_amounts(text: str, only: frozenset[Decimal] | None) -> str:
    """Replace money amounts: all of them, or only those in `only`."""
    for match in reversed(find_amounts(text)):
        if only is None or match.value in only:
            text = text[: match.start] + AMOUNT + text[match.end :]
    return text


def _mask_tails(text: str, tails: frozenset[str]) -> str:
    text = _MASKED_NUMBER.sub(TAIL, text)
    text = _TAIL_AFTER_WORD.sub(lambda m: m.group("word") + TAIL, text)
    return _FOUR_DIGITS.sub(lambda m: TAIL if m.group() in tails else m.group(), text)


def mask_personal(text: str, personal: PersonalData, every_amount: bool) -> str:
    """Mask numbers (mask_pii, without tails), names, number tails and amounts.

    Args:
        text: a message of the conversation.
        personal: the customer's names, figures and tails.
        every_amount: mask every money amount, not only the customer's own figures
            (earlier turns only give the topic; the question may need its amount).

    Returns:
        The masked text.
    """
    return _mask_known(
        _TAILED_LABEL.sub(r"[\1]", mask_pii(text)), personal, every_amount
    )


def _mask_known(text: str, personal: PersonalData, every_amount: bool) -> str:
    text = _mask_names(text, personal.names)
    text = _mask_tails(text, personal.tails)
    return _mask_amounts(text, None if every_amount else personal.figures)


def _cost(text: str) -> int:
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff") + len(text.split())


def recent_turns(
    events: Sequence[Mapping[str, Any]], personal: PersonalData | None = None
) -> list[dict[str, str]]:
    """The last MAX_TURNS user/bot messages, masked, trimmed to HISTORY_BUDGET.

    User messages are masked; bot messages are sent only when `is_sendable`, the
    others become one `WITHHELD` marker per run. Turns of one role in a row are
    merged, so the roles alternate as chat templates expect.
    """
    known = disclosed(events).merged(personal or PersonalData())
    window = [e for e in events if e.get("event") in ("user", "bot") and e.get("text")][
        -MAX_TURNS:
    ]
    turns: list[dict[str, str]] = []
    for event in window:
        if event.get("event") == "user":
            role = "user"
            content = mask_personal(str(event["text"]), known, every_amount=True)
        elif is_sendable(event):
            # The bank's own text (a passage, an FAQ answer): its hotline numbers
            # are not personal data, the customer's names and figures still are.
            role = "assistant"
            content = _mask_known(str(event["text"]), known, every_amount=False)
        else:
            role, content = "assistant", WITHHELD
        if turns and turns[-1]["role"] == role:
            if content != WITHHELD or not turns[-1]["content"].endswith(WITHHELD):
                turns[-1]["content"] += "\n" + content
            continue
        turns.append({"role": role, "content": content})
    kept: list[dict[str, str]] = []
    budget = HISTORY_BUDGET
    for turn in reversed(turns):
        budget -= _cost(turn["content"])
        if budget < 0:
            break
        kept.append(turn)
    return list(reversed(kept))


def build_messages(
    question: str,
    language: str,
    hits: Sequence[Hit],
    events: Sequence[Mapping[str, Any]],
    facts: Mapping[str, str] | None = None,
    personal: PersonalData | None = None,
) -> list[dict[str, str]]:
    """Chat messages for the model; every piece of personal data is masked first.

    Args:
        question: the customer's message.
        language: answer language.
        hits: retrieved passages, best first.
        events: the tracker's events (the window of earlier turns); the latest user
            message is the question itself and comes last, once.
        facts: profile facts the answer needs (risk level), never identifiers.
        personal: the customer's names, figures and tails (from the profile), masked
            wherever they appear; the values the bot showed are added from `events`.

    Returns:
        System, history and user messages.
    """
    known = disclosed(events).merged(personal or PersonalData())
    material = "\n\n".join(
        f"[{h.passage.doc_id} {h.passage.version}] {h.passage.title}\n{h.passage.text}"
        for h in hits
    )
    system = f"{POLICY[language]}\n\n资料 Material:\n{material}"
    if facts:
        system += "\n\n" + "; ".join(f"{k}: {mask_pii(v)}" for k, v in facts.items())
    last_user = max(
        (i for i, e in enumerate(events) if e.get("event") == "user"), default=-1
    )
    earlier = [e for i, e in enumerate(events) if i != last_user]
    return [
        {"role": "system", "content": system},
        *recent_turns(earlier, known),
        {"role": "user", "content": mask_personal(question, known, every_amount=False)},
    ]
