"""One customer across channels: what to remember of a conversation, and what to offer.

Pure functions. Every turn of a logged-in customer updates their interaction history
(topic, outcome, pending task and the facts in `CONTEXT_SLOTS`); when they open a new
conversation on any channel within `RESUME_WINDOW`, the greeting offers to continue, and
a yes carries those facts into the new conversation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from actions.pii import mask_pii

RESUME_WINDOW = timedelta(hours=2)  # "a moment ago": older topics are not offered
# Outcomes after which there is nothing to continue.
FINISHED = frozenset({"ended", "completed", "cancelled", "refused"})
# Facts worth carrying over, per topic (values are short codes or masked text).
CONTEXT_SLOTS: Mapping[str, tuple[str, ...]] = {
    "mortgage": ("home_status", "loan_term"),
    "transactions": ("period", "merchant", "category"),
    "card_limit": ("card_type",),
    "lost_card": ("card_type",),
    "balance": ("account_type",),
    "wealth": (),
    # The transfer's reference goes with it: a transfer confirmed in two conversations
    # is one transfer, paid once (actions/dialogue/transfers.py).
    "transfer": ("amount", "recipient", "transfer_ref"),
    "service": (),
}
# What runs when the customer says yes, per topic.
RESUME_ACTIONS: Mapping[str, str] = {
    "mortgage": "action_mortgage_rate",
    "transactions": "action_search_transactions",
    "card_limit": "action_check_card_limit",
    "balance": "action_check_balance",
    "wealth": "action_recommend_wealth",
    "transfer": "transfer_form",
}
CHANNEL_NAMES = {
    "socketio": ("网页", "the web chat"),
    "rest": ("手机银行", "the mobile app"),
    "cmdline": ("测试终端", "the test console"),
}
TOPIC_NAMES = {
    "mortgage": ("房贷利率", "mortgage rates"),
    "transactions": ("消费记录", "your transactions"),
    "card_limit": ("信用卡额度", "your card limit"),
    "lost_card": ("挂失银行卡", "a lost card"),
    "balance": ("账户余额", "your balance"),
    "wealth": ("理财产品", "wealth products"),
    "transfer": ("一笔转账", "a transfer"),
    "service": ("人工服务", "talking to an agent"),
}
HOME_STATUS_NAMES = {"first": ("首套", "first-home"), "second": ("二套", "second-home")}


TRANSFER_REF = re.compile(r"^tr-[0-9a-f]{32}$")


def carried_context(topic: str | None, slots: Mapping[str, Any]) -> dict[str, str]:
    """The facts of `topic` that are set, as masked strings.

    A transfer reference is random, never personal data, and must survive unchanged
    (masking could take a run of its hex digits for an account number).
    """
    carried = {}
    for name in CONTEXT_SLOTS.get(topic or "", ()):
        value = slots.get(name)
        if value in (None, "", []):
            continue
        if name == "transfer_ref":
            if TRANSFER_REF.match(str(value)):
                carried[name] = str(value)
            continue
        carried[name] = mask_pii(str(value))
    return carried


def pending_task(active_loop: str | None) -> str | None:
    """What the customer left unfinished: a transfer form in progress."""
    return "transfer" if active_loop == "transfer_form" else None


def worth_offering(
    topic: str | None,
    outcome: str | None,
    pending: str | None,
    updated_at: datetime,
    now: datetime,
) -> bool:
    """Whether an earlier conversation is recent and unfinished enough to offer.

    Only topics that can be picked up again are offered (not a lost card or a talk
    with an agent), and a transfer only while its form was still open.
    """
    if not topic or topic not in RESUME_ACTIONS or outcome in FINISHED:
        return False
    if topic == "transfer" and pending != "transfer":
        return False
    return now - updated_at <= RESUME_WINDOW


def channel_name(channel: str, language: str) -> str:
    """How the customer calls the channel: 网页, 手机银行, ..."""
    zh, en = CHANNEL_NAMES.get(channel, ("其他渠道", "another channel"))
    return zh if language == "zh" else en


def topic_name(topic: str, context: Mapping[str, Any], language: str) -> str:
    """The topic in the customer's words, with its key fact: 首套房贷利率."""
    zh, en = TOPIC_NAMES.get(topic, (topic, topic))
    if topic == "mortgage" and context.get("home_status") in HOME_STATUS_NAMES:
        hzh, hen = HOME_STATUS_NAMES[str(context["home_status"])]
        zh, en = f"{hzh}{zh}", f"{hen} {en}"
    return zh if language == "zh" else en


def resume_action(topic: str | None) -> str | None:
    """The action that picks the topic up again (None: just ask how to help)."""
    return RESUME_ACTIONS.get(topic or "")
