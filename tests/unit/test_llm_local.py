"""The local transformers LLM: loaded off the event loop, once; a timed-out generation
really stops; a failed load means "no model" (the retrieval answer is used).

A tiny random GPT-2 is made with `save_pretrained` (nothing is downloaded).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
import transformers
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.dialogue.fallback import ActionKnowledgeAnswer
from actions.llm.client import LLMUnavailable
from actions.llm.local import LocalChatModel
from tests.trackers import make_tracker

HI = [{"role": "user", "content": "定期存款利率"}]


@pytest.fixture(scope="module")
def tiny_causal_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import BertTokenizer, GPT2Config, TFGPT2LMHeadModel

    folder = tmp_path_factory.mktemp("tiny-lm")
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "[MASK]",
        *"定期存款利率提前支取您好",
        "user",
        "assistant",
        "system",
        ":",
    ]
    (folder / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(str(folder))
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=1024,
        n_embd=16,
        n_layer=2,
        n_head=2,
        pad_token_id=0,
        eos_token_id=None,  # never stops by itself: only the length or the budget
        bos_token_id=2,
    )
    model = TFGPT2LMHeadModel(config)
    model(model.dummy_inputs)
    model.save_pretrained(str(folder))
    return folder


class LoadSpy:
    """Wraps `TFAutoModelForCausalLM.from_pretrained`: slow, counted, which thread."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.real = transformers.TFAutoModelForCausalLM
        self.delay_s = delay_s
        self.calls = 0
        self.threads: list[int] = []
        self.ticks_during: list[tuple[int, int]] = []
        self.ticks = 0

    def from_pretrained(self, *args, **kwargs):
        self.calls += 1
        self.threads.append(threading.get_ident())
        before = self.ticks
        time.sleep(self.delay_s)  # a big model: seconds of blocking work
        self.ticks_during.append((before, self.ticks))
        return self.real.from_pretrained(*args, **kwargs)


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> LoadSpy:
    recorder = LoadSpy(delay_s=0.5)
    monkeypatch.setattr(transformers, "TFAutoModelForCausalLM", recorder)
    return recorder


async def test_local_causal_lm_loads_and_generates(tiny_causal_lm: Path) -> None:
    model = LocalChatModel(tiny_causal_lm, timeout_s=30, max_new_tokens=5)
    answer = await model.complete(HI)
    assert isinstance(answer, str) and answer  # a tiny random model: any text will do


async def test_the_model_loads_off_the_event_loop(
    tiny_causal_lm: Path, spy: LoadSpy
) -> None:
    done = asyncio.Event()

    async def ticker() -> None:
        while not done.is_set():
            spy.ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    loop_thread = threading.get_ident()
    try:
        model = LocalChatModel(tiny_causal_lm, timeout_s=60, max_new_tokens=2)
        assert await model.complete(HI)
    finally:
        done.set()
        await ticking
    assert spy.calls == 1
    assert spy.threads[0] != loop_thread
    (before, after) = spy.ticks_during[0]
    assert after - before >= 2  # other chats went on while the model loaded


async def test_concurrent_first_calls_share_one_load(
    tiny_causal_lm: Path, spy: LoadSpy
) -> None:
    model = LocalChatModel(tiny_causal_lm, timeout_s=60, max_new_tokens=2)
    answers = await asyncio.gather(*(model.complete(HI) for _ in range(4)))
    assert all(answers) and spy.calls == 1
    assert await model.complete(HI) and spy.calls == 1  # and never again


async def test_a_load_slower_than_the_budget_gives_way_and_goes_on(
    tiny_causal_lm: Path, spy: LoadSpy
) -> None:
    spy.delay_s = 1.5
    model = LocalChatModel(tiny_causal_lm, timeout_s=0.3, max_new_tokens=1)
    with pytest.raises(LLMUnavailable):
        await model.complete(HI)  # this customer gets the retrieval answer
    for _ in range(100):  # the load goes on in the background, once
        if spy.ticks_during:
            break
        await asyncio.sleep(0.1)
    assert spy.calls == 1


@pytest.mark.parametrize("folder", ["missing", "empty"])
async def test_a_failed_load_means_the_model_is_unavailable(
    tmp_path: Path, folder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / folder
    if folder == "empty":
        path.mkdir()
    model = LocalChatModel(path, timeout_s=30)  # never raises here
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            await model.complete(HI)
    # The fallback action then answers from the knowledge base.
    monkeypatch.setattr(services, "llm_client", lambda: model)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(text="定期存款提前支取会怎么样", intent="nlu_fallback")
    await ActionKnowledgeAnswer().run(dispatcher, tracker, {})
    assert [m["response"] for m in dispatcher.messages] == ["utter_knowledge_answer"]


async def test_a_timed_out_generation_stops(
    tiny_causal_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import TFGPT2LMHeadModel

    steps = [0]
    real_step = TFGPT2LMHeadModel.prepare_inputs_for_generation

    def counted(self, *args, **kwargs):
        steps[0] += 1
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(TFGPT2LMHeadModel, "prepare_inputs_for_generation", counted)
    max_new = 900  # minutes of work for this tiny model on a busy CPU
    model = LocalChatModel(tiny_causal_lm, timeout_s=0.5, max_new_tokens=max_new)
    for _ in range(40):  # the first calls may time out while the model loads
        with pytest.raises(LLMUnavailable):
            await model.complete(HI)
        if steps[0]:
            break
        await asyncio.sleep(0.2)
    assert steps[0], "generation never started"
    # The generation stops soon after the budget: the step count settles far below
    # the requested length and no generating thread is left.
    for _ in range(20):
        seen = steps[0]
        await asyncio.sleep(0.5)
        if steps[0] == seen:
            break
    assert steps[0] == seen and steps[0] < max_new
    assert not [
        t
        for t in threading.enumerate()
        if t.name.startswith("local-llm") and t.is_alive()
    ]
