"""The custom Rasa NLU components on real Rasa `Message` objects."""

import pytest
from rasa.shared.nlu.training_data.message import Message

from actions.entities import EntityLexicon, find_recipients
from addons.nlu import BankEntityExtractor, LanguageDetector


def parse(text: str, intent: str = "inform") -> Message:
    message = Message(
        data={"text": text, "intent": {"name": intent, "confidence": 0.9}}
    )
    LanguageDetector({}).process([message])
    BankEntityExtractor(EntityLexicon.from_file()).process([message])
    return message


def test_language_is_in_the_parse_output() -> None:
    message = parse("帮我查一下 mortgage rate")
    assert message.get("language") == "zh"
    # add_to_output: the key survives into the parse result Rasa returns and stores.
    assert "language" in message.as_dict(only_output_properties=True)
    assert parse("what about a second home?").get("language") == "en"
    assert parse("$300").get("language") is None


def test_entities_are_in_the_parse_output() -> None:
    message = parse("我想给张伟转五千", intent="transfer_money")
    output = message.as_dict(only_output_properties=True)
    assert [(e["entity"], e["value"]) for e in output["entities"]] == [
        ("recipient", "张伟"),
        ("amount", "5000.00"),
    ]


@pytest.mark.parametrize(
    ("intent", "kinds"),
    [
        ("transfer_money", ["recipient", "amount"]),
        ("inform", ["recipient", "amount"]),
        ("search_transactions", ["amount"]),
    ],
)
def test_recipients_only_in_transfer_messages(intent: str, kinds: list[str]) -> None:
    entities = parse("给我妈转五千", intent=intent).get("entities")
    assert [e["entity"] for e in entities] == kinds


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("给张伟转五千", ["张伟"]),
        ("帮我把五千块转给王芳", ["王芳"]),
        ("转2万到我妈那", ["我妈"]),
        ("给我女儿", ["我女儿"]),
        ("转账给李娜，金额三千五", ["李娜"]),
        ("send 500 to Alice", ["Alice"]),
        ("pay my landlord 2k", ["my landlord"]),
        ("send money to Bob Chen please", ["Bob Chen"]),
        ("I want to make a transfer", []),
        ("I want to talk to an agent", []),
        ("我要转账", []),
        ("给我转人工", []),
    ],
)
def test_find_recipients(text: str, names: list[str]) -> None:
    assert [e.value for e in find_recipients(text)] == names
