"""The domain, the registered actions and the training data agree with each other."""

import re
from pathlib import Path

import pytest
import yaml
from rasa_sdk.executor import ActionExecutor

from scripts.check_nlu_data import TRAINING, examples, problems

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
CONTRACT = {
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "thank",
    "bot_challenge",
    "stop",
    "inform",
    "check_balance",
    "transfer_money",
    "check_card_limit",
    "ask_mortgage_rate",
    "recommend_wealth_product",
    "report_lost_card",
    "search_transactions",
    "request_human",
    "complain",
    "faq",
    "out_of_scope",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# Entries are names, or {name: {send_domain: true}}.
ACTIONS = [a if isinstance(a, str) else next(iter(a)) for a in DOMAIN["actions"]]


def test_intent_contract_is_in_the_domain() -> None:
    assert CONTRACT <= set(DOMAIN["intents"])


def test_every_domain_action_is_registered_and_vice_versa() -> None:
    executor = ActionExecutor()
    executor.register_package("actions")
    assert set(executor.actions) == set(ACTIONS)


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints.production.yml"])
def test_the_domain_goes_only_to_form_validations(endpoints: str) -> None:
    """80 kB of domain with every action call is waste: only a form's check needs it.

    Rasa's form validation reads the form's slots from the domain; the per-turn slot
    validation (`action_validate_slot_mappings`) names its slots itself.
    """
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.utils.endpoints import EndpointConfig
    from rasa_sdk.forms import FormValidationAction

    config = yaml.safe_load((ROOT / endpoints).read_text(encoding="utf-8"))
    endpoint = EndpointConfig.from_dict(config["action_endpoint"])
    domain = Domain.load(ROOT / "domain.yml")
    tracker = DialogueStateTracker("s", domain.slots)
    executor = ActionExecutor()
    executor.register_package("actions")
    forms = {
        name
        for name, action in executor.actions.items()
        if isinstance(getattr(action, "__self__", None), FormValidationAction)
    }
    sent = {
        name
        for name in ACTIONS
        if "domain" in RemoteAction(name, endpoint)._action_call_format(tracker, domain)
    }
    assert forms == {"validate_transfer_form"}
    assert sent == forms


@pytest.mark.parametrize("name", sorted(DOMAIN["responses"]))
def test_every_response_has_chinese_english_and_a_default(name: str) -> None:
    variations = DOMAIN["responses"][name]
    by_language: dict[str | None, list[str]] = {}
    for variation in variations:
        language = next(
            (
                c["value"]
                for c in variation.get("condition", [])
                if c["name"] == "language"
            ),
            None,
        )
        by_language.setdefault(language, []).append(variation["text"])
    assert set(by_language) == {"zh", "en", None}, name
    assert all(re.search(r"[\u4e00-\u9fff]", t) for t in by_language["zh"]), name
    assert not any(re.search(r"[\u4e00-\u9fff]", t) for t in by_language["en"]), name
    # Every variation fills the same variables, so no reply shows a raw "{amount}".
    placeholders = {
        frozenset(PLACEHOLDER.findall(t))
        for texts in by_language.values()
        for t in texts
    }
    assert len(placeholders) == 1 or name in {"utter_greet"}, (name, placeholders)


def test_every_faq_intent_has_an_answer() -> None:
    topics = {
        intent
        for path in TRAINING
        for intent, _ in examples(path)
        if intent.startswith("faq/")
    }
    answers = {
        name.removeprefix("utter_")
        for name in DOMAIN["responses"]
        if name.startswith("utter_faq/")
    }
    assert len(topics) >= 12 and topics == answers


def test_training_data_has_no_duplicates_and_no_held_out_leak() -> None:
    assert problems() == []


@pytest.mark.parametrize("intent", sorted(CONTRACT - {"faq"}))
def test_every_contract_intent_has_25_examples_per_language(intent: str) -> None:
    counts = {"zh": 0, "en": 0}
    for path in TRAINING:
        if path.parent.name in counts:
            counts[path.parent.name] += sum(1 for i, _ in examples(path) if i == intent)
    assert counts["zh"] >= 25 and counts["en"] >= 25, counts


GENTLE_RESPONSES = [
    "utter_balance_total",
    "utter_transfer_done",
    "utter_transfer_cancelled",
    "utter_transfer_insufficient",
    "utter_card_frozen_credit",
    "utter_card_frozen_debit",
    "utter_card_frozen_next_steps",
    "utter_default",
    "utter_handoff_waiting",
    "utter_complaint_ack",
    "utter_login_required",
    "utter_service_unavailable",
    "utter_ask_card_type",
]


@pytest.mark.parametrize("name", GENTLE_RESPONSES)
def test_key_responses_have_a_gentle_tone_in_both_languages(name: str) -> None:
    conditions = [
        {(c["name"], c["value"]) for c in v.get("condition", [])}
        for v in DOMAIN["responses"][name]
    ]
    for language in ("zh", "en"):
        for tone in ("plain", "gentle"):
            assert {("language", language), ("tone", tone)} in conditions, (name, tone)
    texts = {v["text"] for v in DOMAIN["responses"][name]}
    assert len(texts) >= 4  # the gentle wording differs from the plain one
