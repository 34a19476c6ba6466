"""Prompt encoding and output decoding, shared by every engine adapter.

Executors and validators must agree on the exact prompt ids whatever runs the model, so
the chat template, the plain-prompt encoding and the visible text of an output are
defined once here over a Hugging Face tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Tokenization:
    _tokenizer: Any
    eos_token_ids: frozenset[int]

    def chat_prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        encoded = self._tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True
        )
        # transformers 5 returns a BatchEncoding here, older releases a plain list.
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return [int(i) for i in ids]

    def text_prompt_ids(self, prompt: str) -> list[int]:
        return [int(i) for i in self._tokenizer.encode(prompt, add_special_tokens=False)]

    def token_text(self, token_id: int) -> str:
        return str(self._tokenizer.decode([token_id], skip_special_tokens=False))

    def decode(self, token_ids: Sequence[int]) -> str:
        """The text a client sees: end-of-sequence and other special tokens dropped."""
        visible = [t for t in token_ids if t not in self.eos_token_ids]
        return str(self._tokenizer.decode(visible, skip_special_tokens=True))
