"""When no trained skill fits: answer from the bank's knowledge base, or say so."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from actions import services
from actions.dialogue.ab import MISSES_BEFORE_OFFER, variant_of
from actions.dialogue.common import EventList, blocking, customer_of, language_of
from actions.errors import BotError, ServiceUnavailable
from actions.knowledge import Hit
from actions.llm.client import ChatClient, LLMUnavailable
from actions.llm.guardrails import check_answer
from actions.llm.prompts import PersonalData, build_messages, disclosed, name_variants
from actions.pii import mask_pii
from actions.profile_db.models import Payee
from actions.profile_db.session import session_scope

if TYPE_CHECKING:
    from actions.llm.local import LocalChatModel
    from actions.profile_db.repository import CustomerProfile, ProfileRepository

logger = logging.getLogger(__name__)

# Response-selector confidence from which a fixed FAQ answer is trusted. Held-out FAQ
# questions score 0.91 or more in nine cases out of ten; of the knowledge-base questions
# taken for an FAQ, 23 of 32 score below 0.8 and go to the knowledge base instead of
# getting a wrong fixed answer (the documents cover every FAQ topic too).
MIN_FAQ_CONFIDENCE = 0.8
# BM25 score from which the best passage is trusted as an answer on its own. Measured on
# the evaluation questions: right answers score 4.6-30 (median 12.4), out-of-scope
# chit-chat (weather, jokes, stock tips) 0-4.2.
MIN_PASSAGE_SCORE = 5.0


def _payee_names(repo: ProfileRepository, customer_id: str) -> list[str]:
    """Names and aliases of the customer's saved payees, in one query.

    The repository has no list of payees yet (only `find_payee`); this reads the two
    columns through its engine, as erasure does.
    """
    query = select(Payee.name, Payee.aliases).where(Payee.customer_id == customer_id)
    try:
        with session_scope(repo.engine) as session:
            rows = session.execute(query).all()
    except OperationalError as exc:
        raise ServiceUnavailable("profile database unavailable") from exc
    return [n for name, aliases in rows for n in [name, *aliases.split("|")] if n]


def _lookup(customer_id: str) -> tuple[CustomerProfile | None, PersonalData]:
    """The customer's profile and everything about them a prompt must not carry."""
    repo = services.profile_repository()
    profile = repo.get_customer(customer_id)
    if profile is None:
        return None, PersonalData()
    accounts, cards = repo.accounts(customer_id), repo.cards(customer_id)
    figures = {a.balance for a in accounts}
    figures |= {c.credit_limit for c in cards if c.credit_limit is not None}
    figures |= {c.available_credit for c in cards if c.available_credit is not None}
    tails = {re.sub(r"\D", "", a.masked_number)[-4:] for a in accounts}
    tails |= {c.last4 for c in cards}
    names = [profile.name_zh, profile.name_en, *_payee_names(repo, customer_id)]
    personal = PersonalData(
        name_variants(names), frozenset(figures), frozenset(t for t in tails if t)
    )
    return profile, personal


async def _customer_context(
    tracker: Tracker, hits: list[Hit]
) -> tuple[dict[str, str], PersonalData | None]:
    """Profile facts the answer needs, and the personal data to keep out.

    Only the risk level is a fact, and only for wealth passages (which products a
    customer may buy); the tier changes no answer in the knowledge base. None for the
    personal data means it could not be read: then no earlier turn is sent.
    """
    customer_id = customer_of(tracker)
    if not customer_id:
        return {}, PersonalData()
    try:
        profile, personal = await blocking(_lookup, customer_id)
    except BotError:
        return {}, None
    about_wealth = any(h.passage.doc_id.startswith("wealth-") for h in hits)
    if profile is None or not about_wealth:
        return {}, personal
    return {"risk level": f"R{profile.risk_level}"}, personal


class ActionKnowledgeAnswer(Action):
    """Runs on `nlu_fallback` and `out_of_scope` outside a task.

    Answers with the best knowledge-base passage in the customer's language and records
    which document (and version) it used; without a good passage it says what it cannot
    do and offers a person.
    """

    def name(self) -> str:
        return "action_knowledge_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        question = mask_pii(tracker.latest_message.get("text") or "")
        language = language_of(tracker)
        index = await blocking(services.knowledge_index)
        hits = await blocking(index.search, question, language, 3)
        client = services.llm_client()
        if client is not None and hits:
            answer = await self._model_answer(client, question, language, hits, tracker)
            if answer is not None:
                best = hits[0].passage
                dispatcher.utter_message(
                    response="utter_llm_answer",
                    answer=answer,
                    title=best.title,
                    version=best.version,
                )
                return [SlotSet("knowledge_source", f"{best.doc_id}@{best.version}")]
        if hits and hits[0].score >= MIN_PASSAGE_SCORE:
            best = hits[0].passage
            dispatcher.utter_message(
                response="utter_knowledge_answer",
                passage=best.text,
                title=best.title,
                version=best.version,
            )
            return [SlotSet("knowledge_source", f"{best.doc_id}@{best.version}")]
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "out_of_scope":
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response=await self._not_understood(tracker))
        return [SlotSet("knowledge_source", None)]

    @staticmethod
    async def _not_understood(tracker: Tracker) -> str:
        """Ask to rephrase, or offer a person.

        `offer_human` experiment: the offer comes at the first turn in a row the bot
        has not understood (early) or at the second (late, the control).
        """
        misses = misunderstood_turns(tracker.events) + 1  # this turn too
        variant = await variant_of(tracker, "offer_human")
        needed = MISSES_BEFORE_OFFER.get(variant, MISSES_BEFORE_OFFER["late"])
        return "utter_offer_human" if misses >= needed else "utter_default"

    @staticmethod
    async def _model_answer(
        client: ChatClient | LocalChatModel,
        question: str,
        language: str,
        hits: list[Hit],
        tracker: Tracker,
    ) -> str | None:
        """The model's grounded answer, or None when it is unavailable or refused."""
        facts, personal = await _customer_context(tracker, hits)
        known = disclosed(tracker.events).merged(personal or PersonalData())
        # Without the customer's names, earlier turns cannot be masked: none are sent.
        events = tracker.events if personal is not None else []
        messages = build_messages(question, language, hits, events, facts, known)
        try:
            answer = await client.complete(messages)
        except LLMUnavailable as exc:
            logger.warning("LLM fallback unavailable: %s", exc)
            return None
        passages = [h.passage.text for h in hits]
        refused = check_answer(answer, language, passages, known.terms())
        if refused:
            logger.warning("LLM answer refused by guardrail: %s", refused)
            return None
        return answer


NOT_UNDERSTOOD = frozenset({"utter_default", "utter_offer_human"})


def misunderstood_turns(events: list[dict]) -> int:
    """How many of the customer's previous turns in a row the bot did not understand.

    A turn counts when its last reply was "please rephrase" or the offer of a person;
    the current turn (the latest user message) is not counted.
    """
    turns: list[str | None] = []  # last reply template of each earlier user turn
    for event in events:
        if event.get("event") == "user":
            turns.append(None)
        elif event.get("event") == "bot" and turns:
            turns[-1] = (event.get("metadata") or {}).get("utter_action")
    count = 0
    for reply in reversed(turns[:-1]):
        if reply not in NOT_UNDERSTOOD:
            break
        count += 1
    return count


class ActionFaqAnswer(ActionKnowledgeAnswer):
    """Runs on `faq`: the fixed answer the ResponseSelector chose, when it is sure.

    A question that only resembles an FAQ topic is answered from the knowledge base.
    """

    def name(self) -> str:
        return "action_faq_answer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        selected = (
            (tracker.latest_message.get("response_selector") or {}).get("faq") or {}
        ).get("response") or {}
        key = selected.get("intent_response_key")
        if key and float(selected.get("confidence") or 0) >= MIN_FAQ_CONFIDENCE:
            dispatcher.utter_message(response=f"utter_{key}")
            return [SlotSet("knowledge_source", key)]
        return await super().run(dispatcher, tracker, domain)
