"""Card actions: credit limit and available credit, freezing a lost card."""

from __future__ import annotations

from decimal import Decimal

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.common import (
    CustomerAction,
    EventList,
    blocking,
    is_follow_up,
    latest_entity,
)
from actions.money import format_money
from actions.profile_db.repository import ProfileRepository


async def utter_card_limits(
    repo: ProfileRepository,
    dispatcher: CollectingDispatcher,
    customer_id: str,
    language: str,
) -> None:
    """Tell a customer the limit and available credit of each credit card."""
    cards = [
        c for c in await blocking(repo.cards, customer_id) if c.card_type == "credit"
    ]
    if not cards:
        dispatcher.utter_message(response="utter_no_credit_card")
    for card in cards:
        dispatcher.utter_message(
            response="utter_card_limit",
            product=card.product_name,
            last4=card.last4,
            limit=format_money(card.credit_limit or Decimal("0"), language),
            available=format_money(card.available_credit or Decimal("0"), language),
        )


class ActionCheckCardLimit(CustomerAction):
    """Answers `check_card_limit`."""

    def name(self) -> str:
        return "action_check_card_limit"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        await utter_card_limits(self.repo, dispatcher, customer_id, language)
        return []


class ActionFreezeCard(CustomerAction):
    """Answers `report_lost_card`: freezes the card at once, then confirms."""

    def name(self) -> str:
        return "action_freeze_card"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        card_type = latest_entity(tracker, "card_type")
        if card_type is None and is_follow_up(tracker):
            card_type = tracker.get_slot("card_type")
        before = await blocking(self.repo.cards, customer_id)
        if not before:
            dispatcher.utter_message(response="utter_no_cards")
            return []
        kinds = {c.card_type for c in before}
        in_a_hurry = tracker.active_loop_name or tracker.get_slot("needs_human")
        if card_type is None and len(kinds) > 1 and not in_a_hurry:
            dispatcher.utter_message(response="utter_ask_card_type")
            return []
        # Inside another task, or before a handoff, nobody is asked: all cards are
        # frozen (it is reversible).
        after = await blocking(self.repo.freeze_cards, customer_id, card_type)
        was_active = {c.id for c in before if c.status == "active"}
        for card in after:
            if card.id in was_active:
                dispatcher.utter_message(
                    response=f"utter_card_frozen_{card.card_type}", last4=card.last4
                )
            else:
                dispatcher.utter_message(
                    response="utter_card_already_frozen", last4=card.last4
                )
        if after:
            dispatcher.utter_message(response="utter_card_frozen_next_steps")
        else:
            dispatcher.utter_message(response="utter_no_cards")
        return [SlotSet("card_type", None)]
