"""A local transformers causal language model as the fallback's writer.

Loaded from a folder made with ``save_pretrained`` (LLM_LOCAL_MODEL_PATH); nothing is
downloaded. The load runs once, in a worker thread, and callers wait for it without
blocking the event loop; a failed load means "no model" (the retrieval answer is used).
Each generation runs in its own worker thread under the same time budget and circuit
breaker as the HTTP client, and stops at the budget, so a slow model never holds a
customer, nor a CPU, for longer.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actions.llm.client import CircuitBreaker, LLMUnavailable

logger = logging.getLogger(__name__)
MAX_PROMPT_TOKENS = 1024


class GenerationStopped(Exception):
    """The generation was stopped: its deadline passed or its caller gave up."""


class Deadline:
    """A per-step check inside ``generate()``: stops it at the deadline or on cancel.

    TensorFlow's ``generate`` has no ``StoppingCriteria`` (PyTorch only); it calls its
    logits processors once per new token, in Python when it runs eagerly, so this
    processor is the place to stop it. Raising ends ``generate()`` at once.
    """

    def __init__(self, deadline: float, cancelled: threading.Event) -> None:
        self.deadline, self.cancelled = deadline, cancelled
        self.steps = 0

    def __call__(self, input_ids: Any, scores: Any, cur_len: Any) -> Any:
        self.steps += 1
        if self.cancelled.is_set() or time.monotonic() >= self.deadline:
            raise GenerationStopped(f"stopped after {self.steps} tokens")
        return scores


async def _finished(future: Future[Any], deadline: float) -> bool:
    """Wait for a worker's future until the deadline, without blocking the loop.

    Giving up leaves the worker's future alone (the load goes on; a generation is
    stopped by its `Deadline`).
    """
    if future.done():
        return True
    waiting = asyncio.wrap_future(future)
    try:
        done, _ = await asyncio.wait(
            {waiting}, timeout=max(0.0, deadline - time.monotonic())
        )
    finally:
        if not waiting.done():
            # Cancels only this wrapper: the worker's future is running and stays.
            waiting.cancel()
        elif not waiting.cancelled():
            waiting.exception()  # read from the worker's future by the caller
    return bool(done)


@dataclass(frozen=True)
class _Loaded:
    tokenizer: Any
    model: Any


class LocalChatModel:
    """Same interface as `ChatClient`: ``await complete(messages) -> str``.

    Args:
        path: the ``save_pretrained`` folder (tokenizer and TensorFlow model).
        timeout_s: the whole budget of one answer, waiting for the load included.
        max_new_tokens: the longest answer.
        breaker: shared circuit breaker.
    """

    def __init__(
        self,
        path: str | Path,
        timeout_s: float = 8.0,
        max_new_tokens: int = 200,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._folder = Path(path)
        self._timeout, self._max_new = timeout_s, max_new_tokens
        self.breaker = breaker or CircuitBreaker()
        self._lock = threading.Lock()
        self._load: Future[_Loaded] | None = None

    # --- loading -------------------------------------------------------------------
    def _loading(self) -> Future[_Loaded]:
        """The one load of the model; the first caller starts it in a worker thread."""
        with self._lock:
            if self._load is None:
                future: Future[_Loaded] = Future()
                future.set_running_or_notify_cancel()  # a waiter giving up can't cancel
                threading.Thread(
                    target=self._load_into,
                    args=(future,),
                    name="local-llm-load",
                    daemon=True,
                ).start()
                self._load = future
            return self._load

    def _load_into(self, future: Future[_Loaded]) -> None:
        try:
            if not self._folder.is_dir():
                raise FileNotFoundError(f"local LLM folder not found: {self._folder}")
            # Imported here: transformers takes seconds to import, never at start-up.
            from transformers import AutoTokenizer, TFAutoModelForCausalLM

            tokenizer = AutoTokenizer.from_pretrained(
                str(self._folder), local_files_only=True
            )
            model = TFAutoModelForCausalLM.from_pretrained(
                str(self._folder), local_files_only=True
            )
        except Exception as exc:  # any failure: there is no model, said once
            logger.error("local LLM not loaded from %s: %s", self._folder, exc)
            future.set_exception(exc)
        else:
            future.set_result(_Loaded(tokenizer, model))

    async def _loaded(self, deadline: float) -> _Loaded:
        """The loaded model, waited for until the deadline (the load goes on)."""
        future = self._loading()
        if not await _finished(future, deadline):
            raise LLMUnavailable("local model still loading")
        if future.exception() is not None:
            raise LLMUnavailable("local model could not be loaded")
        return future.result()

    # --- generating ----------------------------------------------------------------
    @staticmethod
    def _prompt(tokenizer: Any, messages: Sequence[dict[str, Any]]) -> str:
        if getattr(tokenizer, "chat_template", None):
            return str(
                tokenizer.apply_chat_template(
                    list(messages), tokenize=False, add_generation_prompt=True
                )
            )
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def _generate(self, loaded: _Loaded, prompt: str, stop: Deadline) -> str:
        from transformers import TFLogitsProcessorList

        tokenizer, model = loaded.tokenizer, loaded.model
        inputs = tokenizer(
            prompt, return_tensors="tf", truncation=True, max_length=MAX_PROMPT_TOKENS
        )
        output = model.generate(
            **inputs,
            max_new_tokens=self._max_new,
            do_sample=False,
            # Special tokens other than end-of-text are never part of an answer.
            bad_words_ids=[
                [i] for i in tokenizer.all_special_ids if i != model.config.eos_token_id
            ]
            or None,
            logits_processor=TFLogitsProcessorList([stop]),
        )
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        return str(tokenizer.decode(new_tokens, skip_special_tokens=True)).strip()

    def _work(
        self, loaded: _Loaded, prompt: str, stop: Deadline, result: Future[str]
    ) -> None:
        try:
            result.set_result(self._generate(loaded, prompt, stop))
        except BaseException as exc:  # handed to the caller, whatever it is
            result.set_exception(exc)

    async def _generated(self, loaded: _Loaded, prompt: str, deadline: float) -> str:
        """Generate in a worker thread; stop it when the budget ends or we give up."""
        cancelled = threading.Event()
        stop = Deadline(deadline, cancelled)
        result: Future[str] = Future()
        result.set_running_or_notify_cancel()
        threading.Thread(
            target=self._work,
            args=(loaded, prompt, stop, result),
            name="local-llm-generate",
            daemon=True,
        ).start()
        try:
            if not await _finished(result, deadline):
                raise asyncio.TimeoutError
            return result.result()
        finally:
            cancelled.set()  # timed out, cancelled or done: the worker stops now

    async def complete(self, messages: Sequence[dict[str, Any]]) -> str:
        """Generate an answer.

        Raises:
            LLMUnavailable: the circuit is open, the model is loading or failed to
                load, the budget ran out, generation failed or gave no text.
        """
        if self.breaker.is_open:
            raise LLMUnavailable("circuit open")
        deadline = time.monotonic() + self._timeout
        loaded = await self._loaded(deadline)
        try:
            prompt = self._prompt(loaded.tokenizer, messages)
            text = await self._generated(loaded, prompt, deadline)
        except Exception as exc:  # timeout, stop, template or TensorFlow error
            self.breaker.record_failure()
            raise LLMUnavailable(f"local model failed: {type(exc).__name__}") from exc
        if not text:
            self.breaker.record_failure()
            raise LLMUnavailable("local model gave no answer")
        self.breaker.record_success()
        return text
