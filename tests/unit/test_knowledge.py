"""The knowledge base, its BM25 index and the fallback answer action."""

import pytest
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.dialogue.fallback import ActionKnowledgeAnswer
from actions.knowledge import KnowledgeIndex, load_passages, tokenize
from tests.trackers import make_tracker


@pytest.fixture(scope="module")
def index() -> KnowledgeIndex:
    return KnowledgeIndex(load_passages())


def test_knowledge_base_has_30_documents_in_both_languages() -> None:
    passages = load_passages()
    docs = {(p.doc_id, p.language, p.version) for p in passages}
    assert len(docs) >= 30
    topics = {d[0].rsplit("-", 1)[0] for d in docs}
    for topic in topics:
        assert {f"{topic}-zh", f"{topic}-en"} <= {d[0] for d in docs}, topic
    assert all(p.doc_id.endswith(f"-{p.language}") for p in passages)


def test_tokenizer_splits_chinese_and_drops_filler() -> None:
    assert "大额存单" in tokenize("大额存单起存金额是多少？") or "存单" in tokenize(
        "大额存单"
    )
    assert tokenize("how much is the annual fee") == ["annual", "fee"]


@pytest.mark.parametrize(
    ("question", "language", "doc"),
    [
        ("大额存单多少钱起存", "zh", "deposits-time-zh"),
        ("信用卡年费怎么免", "zh", "fees-cards-zh"),
        ("有人让我转到安全账户", "zh", "anti-fraud-zh"),
        (
            "what documents do I need for a mortgage application",
            "en",
            "mortgage-documents-en",
        ),
        ("is there a fee for replacing my card", "en", "fees-cards-en"),
    ],
)
def test_search_finds_the_answering_document(index, question, language, doc) -> None:
    hits = index.search(question, language)
    assert doc in [h.passage.doc_id for h in hits]
    assert all(h.passage.language == language for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_search_without_words_finds_nothing(index) -> None:
    assert index.search("？？", "zh") == []
    assert index.search("hello", "fr") == []


async def test_fallback_answers_from_the_knowledge_base() -> None:
    tracker = make_tracker(text="定期存款提前支取会怎么样", intent="nlu_fallback")
    dispatcher = CollectingDispatcher()
    events = await ActionKnowledgeAnswer().run(dispatcher, tracker, {})
    (message,) = dispatcher.messages
    assert message["response"] == "utter_knowledge_answer"
    assert events == [
        SlotSet("knowledge_source", f"deposits-time-zh@{message['version']}")
    ]
    assert (
        "活期" in message["passage"]
    )  # early withdrawal earns the current-account rate


@pytest.mark.parametrize(
    ("text", "intent", "reply"),
    [
        ("what's the weather like in Shanghai", "out_of_scope", "utter_out_of_scope"),
        ("给我讲个笑话", "out_of_scope", "utter_out_of_scope"),
        ("asdfgh qwerty", "nlu_fallback", "utter_default"),
    ],
)
async def test_fallback_without_a_good_passage(text, intent, reply) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionKnowledgeAnswer().run(
        dispatcher, make_tracker(text=text, intent=intent), {}
    )
    assert [m["response"] for m in dispatcher.messages] == [reply]
    assert events == [SlotSet("knowledge_source", None)]


def faq_tracker(text: str, key: str, confidence: float):
    tracker = make_tracker(text=text, intent="faq")
    tracker.latest_message["response_selector"] = {
        "faq": {"response": {"intent_response_key": key, "confidence": confidence}}
    }
    return tracker


async def test_a_sure_faq_gets_its_fixed_answer() -> None:
    from actions.dialogue.fallback import ActionFaqAnswer

    dispatcher = CollectingDispatcher()
    events = await ActionFaqAnswer().run(
        dispatcher, faq_tracker("营业时间", "faq/opening_hours", 0.97), {}
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_faq/opening_hours"]
    assert events == [SlotSet("knowledge_source", "faq/opening_hours")]


async def test_an_unsure_faq_is_answered_from_the_knowledge_base() -> None:
    from actions.dialogue.fallback import ActionFaqAnswer

    dispatcher = CollectingDispatcher()
    events = await ActionFaqAnswer().run(
        dispatcher,
        faq_tracker("有人自称公安让我把钱转到安全账户怎么办", "faq/open_account", 0.3),
        {},
    )
    assert [m["response"] for m in dispatcher.messages] == ["utter_knowledge_answer"]
    assert events == [SlotSet("knowledge_source", "anti-fraud-zh@2026-11")]
