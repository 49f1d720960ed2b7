"""Balance and transaction-search actions."""

from __future__ import annotations

from decimal import Decimal

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.cards import utter_card_limits
from actions.dialogue.common import (
    CustomerAction,
    EventList,
    blocking,
    is_follow_up,
    latest_entity,
    today_local,
)
from actions.money import format_money
from actions.periods import DEFAULT_PERIOD, resolve_period


def _filter(tracker: Tracker, name: str) -> str | None:
    """An entity of this message; on a follow-up ("那上个月呢?") the carried slot."""
    value = latest_entity(tracker, name)
    if value is None and is_follow_up(tracker):
        value = tracker.get_slot(name)
    return value


class ActionCheckBalance(CustomerAction):
    """Answers `check_balance` (and follow-ups such as "那储蓄账户呢?")."""

    def name(self) -> str:
        return "action_check_balance"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        if is_follow_up(tracker) and latest_entity(tracker, "card_type") == "credit":
            await utter_card_limits(self.repo, dispatcher, customer_id, language)
            return []
        account_type = _filter(tracker, "account_type")
        accounts = await blocking(self.repo.accounts, customer_id)
        shown = [a for a in accounts if account_type in (None, a.account_type)]
        if not shown:
            dispatcher.utter_message(response="utter_no_such_account")
            return [SlotSet("account_type", None)]
        for account in shown:
            dispatcher.utter_message(
                response=f"utter_balance_{account.account_type}",
                number=account.masked_number,
                balance=format_money(account.balance, language, account.currency),
            )
        if len(shown) > 1:
            total = sum((a.balance for a in shown), start=Decimal("0"))
            dispatcher.utter_message(
                response="utter_balance_total", total=format_money(total, language)
            )
        return [SlotSet("account_type", account_type)]


class ActionSearchTransactions(CustomerAction):
    """Answers `search_transactions` by period, merchant and category, with totals."""

    def name(self) -> str:
        return "action_search_transactions"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        period = _filter(tracker, "period") or DEFAULT_PERIOD
        merchant = _filter(tracker, "merchant")
        category = None if merchant else _filter(tracker, "category")
        start, end = resolve_period(period, today_local())
        found = await blocking(
            self.repo.search_transactions, customer_id, start, end, merchant, category
        )
        dates = {"start": start.isoformat(), "end": end.isoformat()}
        events = [
            SlotSet("period", period),
            SlotSet("merchant", merchant),
            SlotSet("category", category),
        ]
        label = None
        if merchant or category:
            shown = await blocking(
                self.repo.display_name,
                "merchant" if merchant else "category",
                merchant or category,
            )
            label = (
                (shown.name_zh if language == "zh" else shown.name_en)
                if shown
                else (merchant or category)
            )
        if found.count == 0:
            dispatcher.utter_message(response="utter_transactions_none", **dates)
            return events
        totals = {
            "count": found.count,
            "spent": format_money(found.spent, language),
            "received": format_money(found.received, language),
        }
        if label:
            dispatcher.utter_message(
                response="utter_transactions_summary_filtered",
                filter=label,
                **dates,
                **totals,
            )
        else:
            dispatcher.utter_message(
                response="utter_transactions_summary", **dates, **totals
            )
        for line in found.top:
            dispatcher.utter_message(
                response="utter_transaction_line",
                date=line.posted_on.isoformat(),
                merchant=line.merchant_zh if language == "zh" else line.merchant_en,
                amount=format_money(line.amount, language),
            )
        return events
