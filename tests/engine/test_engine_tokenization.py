"""The tokenization shortcut (the Rust tokenizer called directly) gives exactly what the
Hugging Face wrapper gives: prompt ids for chat and plain prompts, token and output text."""

from __future__ import annotations

import pytest
from attesta_engine.instant import InstantEngine
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model

CONVERSATIONS = [
    [{"role": "user", "content": "Tell me about lighthouses."}],
    [
        {"role": "system", "content": "You answer in French, briefly."},
        {"role": "user", "content": "Qu'est-ce qu'un phare ? 灯台 🚨"},
        {"role": "assistant", "content": "Une tour avec une lumière."},
        {"role": "user", "content": "  spaces   and\ttabs\n\nand <|im_start|> in text "},
    ],
    [{"role": "user", "content": ""}],
]
TEXTS = ["hello world", "  leading spaces", "<|im_end|> special text", "naïve café 🚨", ""]


@pytest.fixture(scope="module")
def engine() -> InstantEngine:
    return InstantEngine(ensure_reference_model(), model_name=REFERENCE_MODEL, top_k=3)


def test_the_shortcut_is_taken_for_the_reference_tokenizer(engine: InstantEngine) -> None:
    assert engine._backend is not None


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_chat_prompt_ids_match_the_wrapper(
    engine: InstantEngine, messages: list[dict[str, str]]
) -> None:
    wrapped = engine._tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True
    )
    ids = wrapped["input_ids"] if hasattr(wrapped, "keys") else wrapped
    assert engine.chat_prompt_ids(messages) == [int(i) for i in ids]


@pytest.mark.parametrize("text", TEXTS)
def test_text_ids_and_decoding_match_the_wrapper(engine: InstantEngine, text: str) -> None:
    tokenizer = engine._tokenizer
    ids = engine.text_prompt_ids(text)
    assert ids == [int(i) for i in tokenizer.encode(text, add_special_tokens=False)]
    with_eos = [*ids, *sorted(engine.eos_token_ids)]
    visible = [t for t in with_eos if t not in engine.eos_token_ids]
    assert engine.decode(with_eos) == tokenizer.decode(visible, skip_special_tokens=True)
    for token in with_eos:
        assert engine.token_text(token) == tokenizer.decode([token], skip_special_tokens=False)
