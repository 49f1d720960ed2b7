"""A local transformers causal language model as the fallback's writer.

Loaded from a folder made with ``save_pretrained`` (LLM_LOCAL_MODEL_PATH); nothing is
downloaded. Generation runs in a worker thread under the same time budget and circuit
breaker as the HTTP client, so a slow model never holds a customer longer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from actions.llm.client import CircuitBreaker, LLMUnavailable


class LocalChatModel:
    """Same interface as `ChatClient`: ``await complete(messages) -> str``."""

    def __init__(
        self,
        path: str | Path,
        timeout_s: float = 8.0,
        max_new_tokens: int = 200,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        from transformers import AutoTokenizer, TFAutoModelForCausalLM

        folder = Path(path)
        if not folder.is_dir():
            raise FileNotFoundError(f"local LLM folder not found: {folder}")
        self._tokenizer = AutoTokenizer.from_pretrained(
            str(folder), local_files_only=True
        )
        self._model = TFAutoModelForCausalLM.from_pretrained(
            str(folder), local_files_only=True
        )
        self._timeout, self._max_new = timeout_s, max_new_tokens
        self.breaker = breaker or CircuitBreaker()

    def _prompt(self, messages: Sequence[dict[str, Any]]) -> str:
        if getattr(self._tokenizer, "chat_template", None):
            return str(
                self._tokenizer.apply_chat_template(
                    list(messages), tokenize=False, add_generation_prompt=True
                )
            )
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join([*lines, "assistant:"])

    def _generate(self, prompt: str) -> str:
        inputs = self._tokenizer(
            prompt, return_tensors="tf", truncation=True, max_length=1024
        )
        output = self._model.generate(
            **inputs,
            max_new_tokens=self._max_new,
            do_sample=False,
            # Special tokens other than end-of-text are never part of an answer.
            bad_words_ids=[
                [i]
                for i in self._tokenizer.all_special_ids
                if i != self._model.config.eos_token_id
            ]
            or None,
        )
        new_tokens = output[0][inputs["input_ids"].shape[1] :]
        return str(self._tokenizer.decode(new_tokens, skip_special_tokens=True)).strip()

    async def complete(self, messages: Sequence[dict[str, Any]]) -> str:
        """Generate an answer, or raise LLMUnavailable (open circuit, slow, empty)."""
        if self.breaker.is_open:
            raise LLMUnavailable("circuit open")
        try:
            text = await asyncio.wait_for(
                asyncio.to_thread(self._generate, self._prompt(messages)),
                timeout=self._timeout,
            )
        except (asyncio.TimeoutError, RuntimeError, ValueError) as exc:
            self.breaker.record_failure()
            raise LLMUnavailable(f"local model failed: {type(exc).__name__}") from exc
        if not text:
            self.breaker.record_failure()
            raise LLMUnavailable("local model gave no answer")
        self.breaker.record_success()
        return text
