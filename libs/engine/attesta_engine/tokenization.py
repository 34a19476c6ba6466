"""Prompt encoding and output decoding, shared by every engine adapter.

Executors and validators must agree on the exact prompt ids whatever runs the model, so
the chat template, the plain-prompt encoding and the visible text of an output are
defined once here over a Hugging Face tokenizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from attesta_engine.segments import SegmentCache


class Tokenization:
    _tokenizer: Any
    eos_token_ids: frozenset[int]

    @cached_property
    def _backend(self) -> Any | None:
        """The Rust tokenizer under a fast Hugging Face tokenizer, where calling it gives
        what the Python wrapper gives (the wrapper adds only its per-call set-up, a third
        of encoding a chat prompt and three quarters of decoding one token); None where
        the wrapper does more (a slow tokenizer, or one that cleans up decoded spaces)."""
        backend = getattr(self._tokenizer, "backend_tokenizer", None)
        if backend is None or getattr(self._tokenizer, "clean_up_tokenization_spaces", True):
            return None
        return backend

    @cached_property
    def additive_decode(self) -> bool:
        """Whether decoding a token list is decoding its parts and joining them, cut where
        the text ends in a whole character (byte-level BPE): what lets a growing answer be
        decoded a piece at a time (`attesta_engine.steps.GrowingText`)."""
        backend = self._backend
        return backend is not None and type(backend.decoder).__name__ == "ByteLevel"

    def _plain_encoder(self) -> Any | None:
        """The Rust tokenizer, if encoding with it now gives what the wrapper gives: the
        wrapper switches truncation and padding off (and special-token splitting to its
        setting) on every call, but leaves them as they are afterwards, so another caller
        of the same tokenizer (vLLM asks for truncation) can leave them on."""
        backend = self._backend
        if backend is None or backend.truncation is not None or backend.padding is not None:
            return None
        return None if backend.encode_special_tokens else backend

    # The prompt-piece cache and the tokenizer size (added tokens included) it was made
    # for, in one tuple so a thread tokenizing beside the loop never pairs one's cache with
    # another's size; -1 before the first use. A token added since changes the size and the
    # cache is made again (engines do not change their tokenizers' added tokens otherwise).
    _segments: tuple[int, SegmentCache | None] = (-1, None)

    def _encode_plain(self, backend: Any, text: str) -> list[int]:
        size = backend.get_vocab_size(with_added_tokens=True)
        made_for, segments = self._segments
        if size != made_for:
            segments = SegmentCache.for_backend(backend)
            self._segments = (size, segments)
        if segments is not None:
            return segments.encode(backend, text)
        return list(backend.encode(text, add_special_tokens=False).ids)

    def chat_prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]:
        backend = self._plain_encoder()
        if backend is not None:
            text = self._tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, tokenize=False
            )
            # What apply_chat_template(tokenize=True) does with the text: no special
            # tokens added (the template writes its own).
            return self._encode_plain(backend, text)
        encoded = self._tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True
        )
        # transformers 5 returns a BatchEncoding here, older releases a plain list.
        ids = encoded["input_ids"] if hasattr(encoded, "keys") else encoded
        return [int(i) for i in ids]

    def text_prompt_ids(self, prompt: str) -> list[int]:
        backend = self._plain_encoder()
        if backend is not None:
            return self._encode_plain(backend, prompt)
        return [int(i) for i in self._tokenizer.encode(prompt, add_special_tokens=False)]

    def token_text(self, token_id: int) -> str:
        backend = self._backend
        if backend is not None:
            return str(backend.decode([token_id], skip_special_tokens=False))
        return str(self._tokenizer.decode([token_id], skip_special_tokens=False))

    def decode(self, token_ids: Sequence[int]) -> str:
        """The text a client sees: end-of-sequence and other special tokens dropped."""
        visible = [t for t in token_ids if t not in self.eos_token_ids]
        backend = self._backend
        if backend is not None:
            return str(backend.decode(visible, skip_special_tokens=True))
        return str(self._tokenizer.decode(visible, skip_special_tokens=True))
