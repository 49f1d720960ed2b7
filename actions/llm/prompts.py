"""The prompt of a fallback answer.

Bank policy and guardrails, the retrieved passages, the customer's recent turns (masked,
at most 20, trimmed to a budget) and the language to answer in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from actions.knowledge import Hit
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


def _cost(text: str) -> int:
    return sum(1 for c in text if "\u4e00" <= c <= "\u9fff") + len(text.split())


def recent_turns(events: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The last MAX_TURNS user/bot messages, masked, trimmed to HISTORY_BUDGET."""
    turns = [
        {
            "role": "user" if e.get("event") == "user" else "assistant",
            "content": mask_pii(str(e.get("text"))),
        }
        for e in events
        if e.get("event") in ("user", "bot") and e.get("text")
    ][-MAX_TURNS:]
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
) -> list[dict[str, str]]:
    """Chat messages for the model; every piece of personal data is masked first.

    Args:
        question: the customer's message.
        language: answer language.
        hits: retrieved passages, best first.
        events: the tracker's events (the window of earlier turns).
        facts: relevant profile facts (tier, risk level), never identifiers.

    Returns:
        System, history and user messages.
    """
    material = "\n\n".join(
        f"[{h.passage.doc_id} {h.passage.version}] {h.passage.title}\n{h.passage.text}"
        for h in hits
    )
    system = f"{POLICY[language]}\n\n资料 Material:\n{material}"
    if facts:
        system += "\n\n" + "; ".join(f"{k}: {mask_pii(v)}" for k, v in facts.items())
    history = recent_turns(events)
    if history and history[-1]["role"] == "user":
        history = history[:-1]  # the question itself comes last, once
    return [
        {"role": "system", "content": system},
        *history,
        {"role": "user", "content": mask_pii(question)},
    ]
