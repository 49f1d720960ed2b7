"""addons/selectors.py: the FAQ selector runs for FAQ questions only, as Rasa's."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import (
    CountVectorsFeaturizer,
)
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.importers.rasa import RasaFileImporter
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from addons.selectors import FaqResponseSelector

NLU = """
version: "3.1"
nlu:
- intent: faq/opening_hours
  examples: |
    - when are you open
    - opening hours please
    - what time does the branch open
- intent: faq/lost_password
  examples: |
    - i forgot my password
    - reset my password
    - cannot remember my login password
- intent: greet
  examples: |
    - hello
    - hi there
"""
RESPONSES = """
version: "3.1"
responses:
  utter_faq/opening_hours: [{text: "9 to 5"}]
  utter_faq/lost_password: [{text: "Reset it in the app"}]
"""


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Tokenizer, featurizer and a FAQ selector trained for two epochs."""
    folder = tmp_path_factory.mktemp("selector")
    (folder / "nlu.yml").write_text(NLU, encoding="utf-8")
    (folder / "domain.yml").write_text(RESPONSES, encoding="utf-8")
    importer = RasaFileImporter(
        domain_path=str(folder / "domain.yml"),
        training_data_paths=[str(folder / "nlu.yml")],
    )
    # The answers come from the domain, as in `rasa train`.
    data = importer.get_nlu_data().merge(
        TrainingData(responses=importer.get_domain().responses)
    )
    (folder / "storage").mkdir()
    storage = LocalModelStorage(folder / "storage")
    context = ExecutionContext(GraphSchema({}), "test")
    tokenizer = WhitespaceTokenizer(WhitespaceTokenizer.get_default_config())
    tokenizer.process_training_data(data)
    featurizer = CountVectorsFeaturizer.create(
        CountVectorsFeaturizer.get_default_config(), storage, Resource("cv"), context
    )
    featurizer.train(data)
    featurizer.process_training_data(data)
    config = {
        **FaqResponseSelector.get_default_config(),
        "retrieval_intent": "faq",
        "epochs": 2,
        "random_seed": 1,
    }
    selector = FaqResponseSelector.create(config, storage, Resource("rs"), context)
    selector.train(data)
    return tokenizer, featurizer, selector


def parsed(pipeline: tuple, text: str, intent: str | None) -> Message:
    tokenizer, featurizer, _ = pipeline
    message = Message(data={TEXT: text})
    if intent:
        message.set(INTENT, {"name": intent, "confidence": 0.9})
    tokenizer.process([message])
    featurizer.process([message])
    return message


def test_an_faq_question_gets_rasas_own_selection(pipeline: tuple) -> None:
    selector = pipeline[2]
    ours = parsed(pipeline, "when are you open", "faq")
    selector.process([ours])
    rasas = parsed(pipeline, "when are you open", "faq")
    ResponseSelector.process(selector, [rasas])
    assert ours.get("response_selector") == rasas.get("response_selector")
    key = ours.get("response_selector")["faq"]["response"]["intent_response_key"]
    assert key in {"faq/opening_hours", "faq/lost_password"}
    answers = {
        "faq/opening_hours": "9 to 5",
        "faq/lost_password": "Reset it in the app",
    }
    texts = ours.get("response_selector")["faq"]["response"]["responses"]
    assert texts == [{"text": answers[key]}]


def test_other_intents_are_left_without_a_selection(pipeline: tuple) -> None:
    selector = pipeline[2]
    greeting = parsed(pipeline, "hello", "greet")
    faq = parsed(pipeline, "reset my password", "faq")
    assert selector.process([greeting, faq]) == [greeting, faq]
    assert greeting.get("response_selector") is None
    assert faq.get("response_selector") is not None


def test_a_message_without_an_intent_is_still_selected_for(pipeline: tuple) -> None:
    selector = pipeline[2]
    message = parsed(pipeline, "opening hours please", None)
    selector.process([message])
    assert message.get("response_selector") is not None
    assert selector.needed_for(message)


def test_finassist_uses_it() -> None:
    config = Path(__file__).resolve().parents[2] / "config.yml"
    text = config.read_text(encoding="utf-8")
    assert "name: addons.selectors.FaqResponseSelector" in text
    assert "\n  - name: ResponseSelector" not in text
