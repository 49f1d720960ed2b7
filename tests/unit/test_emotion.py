"""Emotion: the pure decisions, both model backends and the Rasa component."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.sentiment import (
    HISTORY_TURNS,
    decide_escalation,
    roll,
    score_from_probabilities,
)

# --- scores and the rolling state ---------------------------------------------------------


@pytest.mark.parametrize(
    ("probabilities", "score"),
    [
        ({"calm": 1.0}, 0.3),
        ({"angry": 1.0}, -1.0),
        ({"anxious": 0.5, "calm": 0.5}, -0.2),
        ({"calm": 0.25, "confused": 0.25, "anxious": 0.25, "angry": 0.25}, -0.425),
    ],
)
def test_score_is_weighted_valence_in_range(probabilities, score) -> None:
    assert score_from_probabilities(probabilities) == score
    assert -1.0 <= score <= 1.0


def test_history_keeps_the_last_turns() -> None:
    history: list[str] = []
    for i in range(HISTORY_TURNS + 3):
        history = roll(history, "calm" if i % 2 else "anxious")
    assert len(history) == HISTORY_TURNS and history[-1] == "anxious"


@pytest.mark.parametrize(
    ("history", "intent", "topic", "urgent", "reason"),
    [
        (["calm"], "check_balance", "balance", False, None),
        (["anxious"], "check_balance", "balance", False, None),
        (
            ["anxious", "calm", "angry"],
            "inform",
            "transfer",
            False,
            "repeated_distress",
        ),
        (["angry", "anxious"], "inform", None, False, "repeated_distress"),
        (
            ["anxious", "calm", "calm", "anxious"],
            "inform",
            None,
            False,
            None,
        ),  # 4 turns apart
        (["anxious", "anxious", "calm"], "inform", None, False, None),  # calm now
        (["angry"], "complain", "service", False, "angry_complaint"),
        (["anxious"], "complain", "service", False, None),
        (["anxious"], "report_lost_card", "lost_card", False, "high_stakes"),
        (
            ["calm"],
            "report_lost_card",
            "lost_card",
            True,
            None,
        ),  # calm and urgent: bot copes
        (["angry"], "inform", "lost_card", True, "high_stakes"),
        (["anxious"], "inform", "missing_money", False, "high_stakes"),
        ([], None, None, False, None),
    ],
)
def test_escalation_rules(history, intent, topic, urgent, reason) -> None:
    decision = decide_escalation(history, intent, topic, urgent)
    assert decision.reason == reason
    assert decision.escalate is (reason is not None)


# --- the trained backend -----------------------------------------------------------------
TRAINING = [
    ("查一下余额", "calm", False),
    ("谢谢你", "calm", False),
    ("好的没问题", "calm", False),
    ("what's my balance", "calm", False),
    ("thanks a lot", "calm", False),
    ("我的卡被盗刷了怎么办 好害怕", "anxious", True),
    ("钱不见了 急死了", "anxious", True),
    ("someone used my card, I'm scared", "anxious", True),
    ("please help me quickly", "anxious", True),
    ("你们太坑了 我要投诉", "angry", False),
    ("什么破服务", "angry", False),
    ("this bank is a joke", "angry", False),
    ("absolutely unacceptable service", "angry", False),
    ("这是什么意思 看不懂", "confused", False),
    ("我到底该点哪个", "confused", False),
    ("what does this charge mean", "confused", False),
    ("I don't get it", "confused", False),
]


def test_trained_model_scores_and_flags_urgency() -> None:
    from addons.emotion_models import TrainedEmotionModel

    model = TrainedEmotionModel.train(TRAINING)
    (calm, scared, cue) = model.predict(
        ["谢谢你", "someone used my card, I'm scared", "马上帮我冻结"]
    )
    assert calm.emotion == "calm" and calm.score > scared.score
    assert scared.emotion == "anxious" and scared.urgent
    assert cue.urgent  # urgency words count even when the model is unsure
    assert model.predict([]) == []


def test_training_files_are_valid_and_large_enough() -> None:
    from addons.emotion_models import DEFAULT_TRAINING_FILES, ROOT, read_examples

    rows = read_examples(ROOT / p for p in DEFAULT_TRAINING_FILES)
    for emotion in ("calm", "anxious", "angry", "confused"):
        assert sum(1 for _, e, _ in rows if e == emotion) >= 200, emotion
    assert len({t for t, _, _ in rows}) == len(rows)  # no duplicates


def test_evaluation_set_is_not_training_data() -> None:
    import csv

    from addons.emotion_models import DEFAULT_TRAINING_FILES, ROOT, read_examples

    training = {
        t.strip().lower()
        for t, _, _ in read_examples(ROOT / p for p in DEFAULT_TRAINING_FILES)
    }
    with open(
        ROOT / "tests/evaluation/emotion_labelled.csv", encoding="utf-8"
    ) as handle:
        held_out = [r["text"].strip().lower() for r in csv.DictReader(handle)]
    assert len(held_out) >= 300
    assert not training & set(held_out)


# --- the transformers backend: a tiny model made here, loaded by the real code -------------
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertConfig, BertTokenizer, TFBertForSequenceClassification

    folder = tmp_path_factory.mktemp("tiny-emotion")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"我的卡被盗刷了钱不见谢你好",
        "money",
        "card",
        "thanks",
        "help",
        "##s",
    ]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    labels = ["calm", "confused", "anxious", "angry"]
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=4,
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = TFBertForSequenceClassification(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(folder))
    return folder


def test_transformers_backend_loads_a_local_model(tiny_model: Path) -> None:
    from addons.emotion_models import TransformersEmotionModel

    model = TransformersEmotionModel(tiny_model)
    scores = model.predict(["我的卡被盗刷了", "thanks for the help", "马上帮我"])
    assert [s.emotion in {"calm", "confused", "anxious", "angry"} for s in scores] == [
        True
    ] * 3
    assert all(-1.0 <= s.score <= 1.0 and 0.0 < s.confidence <= 1.0 for s in scores)
    assert scores[2].urgent  # no urgency head given: urgency words decide


def test_transformers_backend_refuses_bad_folders(
    tmp_path: Path, tiny_model: Path
) -> None:
    from addons.emotion_models import TransformersEmotionModel

    with pytest.raises(FileNotFoundError):
        TransformersEmotionModel(tmp_path / "missing")
    import shutil

    wrong = tmp_path / "wrong-labels"
    shutil.copytree(tiny_model, wrong)
    config = (wrong / "config.json").read_text().replace('"calm"', '"happy"')
    (wrong / "config.json").write_text(config)
    with pytest.raises(ValueError, match="happy"):
        TransformersEmotionModel(wrong)


# --- the Rasa component --------------------------------------------------------------------
def test_component_trains_persists_loads_and_switches_backend(
    tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import csv

    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from addons import emotion_models
    from addons.emotion import EmotionClassifier

    csv_file = tmp_path / "train.csv"
    with open(csv_file, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "emotion", "urgent"])
        writer.writerows((t, e, int(u)) for t, e, u in TRAINING)
    monkeypatch.setattr(emotion_models, "ROOT", tmp_path)
    monkeypatch.setattr("addons.emotion.ROOT", tmp_path)
    config = {"training_files": ["train.csv"]}
    (tmp_path / "storage").mkdir()
    storage = LocalModelStorage(tmp_path / "storage")
    resource = Resource("emotion")
    context = ExecutionContext(GraphSchema({}), "test")
    monkeypatch.delenv("FINASSIST_EMOTION_MODEL", raising=False)
    EmotionClassifier.create(config, storage, resource, context).train(TrainingData())

    loaded = EmotionClassifier.load(config, storage, resource, context)
    message = Message(data={"text": "我的卡被盗刷了怎么办 好害怕"})
    loaded.process([message])
    emotion = message.as_dict(only_output_properties=True)["emotion"]
    assert emotion["label"] == "anxious" and emotion["backend"] == "trained"
    assert emotion["urgent"] is True

    before = EmotionClassifier.fingerprint_addon(config)
    csv_file.write_text(csv_file.read_text() + "好的,calm,0\n", encoding="utf-8")
    assert EmotionClassifier.fingerprint_addon(config) != before  # edits retrain

    monkeypatch.setenv("FINASSIST_EMOTION_MODEL", str(tiny_model))
    switched = EmotionClassifier.load(config, storage, resource, context)
    message = Message(data={"text": "thanks"})
    switched.process([message])
    assert message.get("emotion")["backend"] == "transformers"


def test_routine_requests_become_weak_calm_examples() -> None:
    from addons.emotion_models import weak_calm_examples

    pairs = [
        ("check_balance", "查下余额"),
        ("inform", "那二套房呢？"),
        ("faq/hotline", "客服电话多少"),
        ("complain", "你们太慢了"),
        ("report_lost_card", "卡丢了"),
        ("inform", "快点 急死了"),
        ("transfer_money", "please help me send money asap"),
    ]
    assert weak_calm_examples(pairs) == [
        ("查下余额", "calm", False),
        ("那二套房呢？", "calm", False),
        ("客服电话多少", "calm", False),
    ]
