"""Mortgage-rate and wealth-recommendation actions."""

from __future__ import annotations

from datetime import timedelta

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.dialogue.common import (
    CustomerAction,
    EventList,
    blocking,
    language_of,
    today_local,
)
from actions.errors import BotError
from actions.money import format_money
from actions.profile_db.repository import ProfileRepository
from actions.wealth import recommend

SPENDING_WINDOW = timedelta(days=90)


class ActionMortgageRate(Action):
    """Answers `ask_mortgage_rate` and its follow-ups ("我是首套房", "那二套房呢?").

    Home status and loan term are slots, so a follow-up changes one and keeps the other.
    """

    def __init__(self, repo: ProfileRepository | None = None) -> None:
        self._repo = repo

    def name(self) -> str:
        return "action_mortgage_rate"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventList:
        home_status = tracker.get_slot("home_status")
        if home_status not in ("first", "second"):
            dispatcher.utter_message(response="utter_ask_home_status")
            return []
        repo = self._repo or services.profile_repository()
        try:
            bands = await blocking(repo.mortgage_rates, home_status, today_local())
        except BotError:
            dispatcher.utter_message(response="utter_service_unavailable")
            return []
        if not bands:
            dispatcher.utter_message(response="utter_mortgage_rates_unavailable")
            return []
        term = tracker.get_slot("loan_term")
        years = int(float(term)) if term else None
        band = next(
            (
                b
                for b in bands
                if years and b.min_term_years <= years <= b.max_term_years
            ),
            None,
        )
        if band:
            dispatcher.utter_message(
                response="utter_mortgage_rate_term",
                term=years,
                rate=f"{band.annual_rate:.2f}",
                version=band.version,
            )
        else:
            dispatcher.utter_message(
                response="utter_mortgage_rates",
                version=bands[0].version,
                short=f"{bands[0].annual_rate:.2f}",
                long=f"{bands[-1].annual_rate:.2f}",
                split=bands[0].max_term_years,
            )
        dispatcher.utter_message(response="utter_mortgage_rate_note")
        return [SlotSet("loan_term", str(years) if band else None)]


class ActionRecommendWealth(CustomerAction):
    """Answers `recommend_wealth_product` from 3 months of money flow and risk level."""

    def name(self) -> str:
        return "action_recommend_wealth"

    async def serve(
        self,
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        customer_id: str,
        language: str,
    ) -> EventList:
        profile = await blocking(self.repo.get_customer, customer_id)
        if profile is None:
            dispatcher.utter_message(response="utter_profile_not_found")
            return []
        flow = await blocking(
            self.repo.spending_profile, customer_id, today_local() - SPENDING_WINDOW
        )
        products = await blocking(self.repo.wealth_products, profile.risk_level)
        advice = recommend(flow, profile.risk_level, products)
        dispatcher.utter_message(
            response="utter_wealth_intro",
            risk=f"R{profile.risk_level}",
            spending=format_money(flow.monthly_spending, language),
            reserve=format_money(advice.reserve, language),
            investable=format_money(advice.investable, language),
        )
        if not advice.products:
            dispatcher.utter_message(response="utter_wealth_none")
        for product in advice.products:
            dispatcher.utter_message(
                response="utter_wealth_product_flexible"
                if product.term_days == 0
                else "utter_wealth_product_term",
                name=product.name_zh
                if language_of(tracker) == "zh"
                else product.name_en,
                risk=f"R{product.risk_level}",
                days=product.term_days,
                min_amount=format_money(product.min_amount, language),
                benchmark=product.benchmark,
            )
        dispatcher.utter_message(response="utter_wealth_disclaimer")
        return []
