"""The transfer form: validation, the confirmation question, execution and cancel."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.dialogue.common import (
    CustomerAction,
    EventList,
    blocking,
    customer_of,
    language_of,
)
from actions.dialogue.continuity import close_interaction
from actions.dialogue.handoff import hand_over, raise_risk_alerts
from actions.errors import BotError, TransferRejected
from actions.money import format_money, parse_decimal
from actions.profile_db.repository import ProfileRepository
from actions.risk.alerts import RISK_ESCALATION, message_risk, risk_since_form_start
from actions.risk.transfers import assess_transfer, default_limits
from actions.settings import get_settings

RESET_TRANSFER = [
    SlotSet("transfer_ref", None),
    SlotSet("amount", None),
    SlotSet("recipient", None),
    SlotSet("payee_id", None),
    SlotSet("transfer_confirmed", None),
    SlotSet("source_account", None),
]
REJECTION_REPLIES = {
    "invalid_amount": "utter_invalid_amount",
    "insufficient_funds": "utter_transfer_insufficient",
    "daily_limit": "utter_over_daily_limit",
    "over_single_limit": "utter_over_single_limit",
    "unknown_payee": "utter_unknown_payee",
    "no_account": "utter_no_such_account",
    "risk_hold": "utter_transfer_on_hold",
}


def _repo(injected: ProfileRepository | None) -> ProfileRepository:
    return injected or services.profile_repository()


def source_account(tracker: Tracker) -> str:
    """The account type a transfer is paid from (the current account by default)."""
    return tracker.get_slot("source_account") or "current"


class ValidateTransferForm(FormValidationAction):
    """Validates amount and recipient against the customer's accounts and payees."""

    def __init__(self, repo: ProfileRepository | None = None) -> None:
        self._repo = repo

    def name(self) -> str:
        return "validate_transfer_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        """A message that trips a risk rule ends the form at once, with nothing filled.

        The form then completes into `action_transfer`, which records the alert, warns
        the customer and hands over; an active form would otherwise take the
        message's amount or "yes" before any dialogue rule could see the risk.
        """
        if message_risk(tracker.latest_message):
            return [*RESET_TRANSFER, SlotSet("requested_slot", None)]
        events = await super().run(dispatcher, tracker, domain)
        # The reference comes with the first detail the customer gives. A turn that
        # fills nothing must stay empty: the form then rejects it and the dialogue
        # answers the question asked in the middle of the transfer.
        fills = any(e.get("event") == "slot" and e.get("value") for e in events)
        if fills and not tracker.get_slot("transfer_ref"):
            events.append(SlotSet("transfer_ref", new_transfer_ref()))
        return events

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """Nothing is asked of anonymous customers: `action_transfer` asks to log in."""
        return list(domain_slots) if customer_of(tracker) else []

    async def extract_recipient(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A saved payee named anywhere in a transfer request or correction.

        "给张伟转五千" or "不对，转给王芳" names the payee inside the sentence; the
        customer's own payee list is the vocabulary, so no name model is needed.
        """
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent not in ("transfer_money", "inform"):
            return {}
        customer_id = customer_of(tracker)
        text = tracker.latest_message.get("text") or ""
        if not customer_id or not text:
            return {}
        try:
            payee = await blocking(_repo(self._repo).find_payee, customer_id, text)
        except BotError:
            return {}
        return {"recipient": payee.name} if payee else {}

    async def extract_source_account(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The account named during the transfer ("从储蓄账户转"), else the current one.

        Returns nothing when nothing changes, so that a message which fills no slot (a
        balance question in the middle) is still rejected by the form and answered by
        the interruption rules.
        """
        named = next(tracker.get_latest_entity_values("account_type"), None)
        current = tracker.get_slot("source_account")
        wanted = named or current or "current"
        return {} if wanted == current else {"source_account": wanted}

    async def validate_amount(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """A positive amount within the single-transfer maximum and the balance."""
        amount = parse_decimal(value) if value is not None else None
        language = language_of(tracker)
        if amount is None or amount <= 0:
            dispatcher.utter_message(response="utter_invalid_amount")
            return {"amount": None}
        maximum = get_settings().max_single_transfer
        if amount > maximum:
            dispatcher.utter_message(
                response="utter_over_single_limit",
                limit=format_money(maximum, language),
            )
            return {"amount": None}
        customer_id = customer_of(tracker)
        try:
            accounts = await blocking(_repo(self._repo).accounts, customer_id)
        except BotError:
            dispatcher.utter_message(response="utter_service_unavailable")
            return {"amount": None}
        source = next(
            (a for a in accounts if a.account_type == source_account(tracker)), None
        )
        if source is not None and amount > source.balance:
            dispatcher.utter_message(
                response="utter_insufficient_funds",
                balance=format_money(source.balance, language),
            )
            return {"amount": None}
        return {"amount": str(amount)}

    async def validate_recipient(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """A saved payee of the customer, found by name or nickname."""
        customer_id = customer_of(tracker)
        try:
            payee = await blocking(
                _repo(self._repo).find_payee, customer_id, str(value)
            )
        except BotError:
            dispatcher.utter_message(response="utter_service_unavailable")
            return {"recipient": None}
        if payee is None:
            dispatcher.utter_message(response="utter_unknown_payee", name=str(value))
            return {"recipient": None, "payee_id": None}
        return {"recipient": payee.name, "payee_id": str(payee.id)}

    async def validate_transfer_confirmed(
        self,
        value: Any,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> dict[str, Any]:
        """A yes/no answer; a correction in the same message asks again."""
        changed = tracker.slots_to_validate()
        if "amount" in changed or "recipient" in changed:
            return {"transfer_confirmed": None}
        return {"transfer_confirmed": bool(value)}


class ActionAskTransferConfirmed(CustomerAction):
    """Asks for explicit confirmation: amount, payee and the account it leaves."""

    def name(self) -> str:
        return "action_ask_transfer_confirmed"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        amount = parse_decimal(tracker.get_slot("amount") or "")
        wanted = source_account(tracker)
        accounts = await blocking(self.repo.accounts, customer_id)
        account = next((a for a in accounts if a.account_type == wanted), None)
        dispatcher.utter_message(
            response="utter_ask_transfer_confirmed",
            amount=format_money(amount, language) if amount else "",
            recipient=tracker.get_slot("recipient") or "",
            account=account.masked_number if account else "",
        )
        return []


def new_transfer_ref() -> str:
    """A reference for one transfer the customer is setting up (random, not personal).

    It is made when the transfer form starts and travels with the transfer when the
    customer continues it on another channel, so that however many conversations
    confirm it, it is paid once.
    """
    return f"tr-{secrets.token_hex(16)}"


def idempotency_key(tracker: Tracker, customer_id: str) -> str:
    """One transfer → one key: a retried call or a second confirmation is a no-op.

    The key is the transfer's reference (made when its form started, carried to any
    conversation that continues it). A tracker without one, which only an older
    conversation can have, falls back to the confirming message.
    """
    ref = tracker.get_slot("transfer_ref")
    if isinstance(ref, str) and ref:
        raw = f"{customer_id}|{ref}"
    else:
        confirming = next(
            (e for e in reversed(tracker.events) if e.get("event") == "user"), {}
        )
        raw = f"{tracker.sender_id}|{confirming.get('timestamp')}"
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class ActionTransfer(CustomerAction):
    """Runs when the transfer form completes: executes a confirmed transfer."""

    def name(self) -> str:
        return "action_transfer"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        risky = message_risk(tracker.latest_message) or risk_since_form_start(
            tracker.events, "transfer_form"
        )
        if risky:  # something said during the transfer tripped a risk rule
            return await _stop_for_risk(
                dispatcher,
                tracker,
                source="message",
                ruleset=str(risky.get("ruleset") or ""),
                hits=list(risky["hits"]),
                action_taken="transfer_cancelled",
            )
        amount = parse_decimal(tracker.get_slot("amount") or "")
        payee_id = tracker.get_slot("payee_id")
        if (
            tracker.get_slot("transfer_confirmed") is not True
            or not amount
            or not payee_id
        ):
            dispatcher.utter_message(response="utter_transfer_cancelled")
            await close_interaction(tracker, customer_id, "transfer", "cancelled")
            return RESET_TRANSFER
        try:
            result = await blocking(
                self.repo.execute_transfer,
                customer_id=customer_id,
                payee_id=int(payee_id),
                amount=amount,
                idempotency_key=idempotency_key(tracker, customer_id),
                account_type=source_account(tracker),
                conversation_id=tracker.sender_id,
                max_single=get_settings().max_single_transfer,
                risk_rules=assess_transfer,
            )
        except TransferRejected as exc:
            await close_interaction(tracker, customer_id, "transfer", "refused")
            if exc.reason == "risk_rules":  # amount / history rules: nothing moved
                return await _stop_for_risk(
                    dispatcher,
                    tracker,
                    source="transfer",
                    ruleset=default_limits().ruleset,
                    hits=[asdict(h) for h in exc.details],
                    action_taken="transfer_blocked",
                    amount=amount,
                )
            dispatcher.utter_message(
                response=REJECTION_REPLIES.get(exc.reason, "utter_transfer_failed"),
                name=tracker.get_slot("recipient") or "",
                limit=format_money(get_settings().max_single_transfer, language),
            )
            return RESET_TRANSFER
        # Done: another channel must not offer this transfer again.
        await close_interaction(tracker, customer_id, "transfer", "completed")
        dispatcher.utter_message(
            # Confirmed before, here or in another conversation: nothing moved now.
            response="utter_transfer_already_done"
            if result.replayed
            else "utter_transfer_done",
            amount=format_money(result.amount, language),
            recipient=result.payee_name,
            account=result.from_account,
            balance=format_money(result.balance_after, language),
        )
        return RESET_TRANSFER


async def _stop_for_risk(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    *,
    source: str,
    ruleset: str,
    hits: list[dict[str, Any]],
    action_taken: str,
    amount: Decimal | None = None,
) -> EventList:
    """No transfer: record the alerts, warn the customer, queue them for a person."""
    customer_id = customer_of(tracker)
    if customer_id:  # a stopped transfer is never offered on another channel
        await close_interaction(tracker, customer_id, "transfer", "refused")
    await raise_risk_alerts(
        dispatcher,
        tracker,
        source=source,
        ruleset=ruleset,
        hits=hits,
        action_taken=action_taken,
        amount=amount,
    )
    return [
        *RESET_TRANSFER,
        *await hand_over(dispatcher, tracker, RISK_ESCALATION, has_risk_alert=True),
    ]


class ActionCancelTransfer(Action):
    """Runs on `stop` inside the transfer form: nothing is sent, slots are cleared."""

    def name(self) -> str:
        return "action_cancel_transfer"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        dispatcher.utter_message(response="utter_transfer_cancelled")
        customer_id = customer_of(tracker)
        if customer_id:
            await close_interaction(tracker, customer_id, "transfer", "cancelled")
        return [*RESET_TRANSFER, SlotSet("requested_slot", None)]
