"""The tokenization shortcuts give exactly what the plain way gives: the Rust tokenizer
called directly what the Hugging Face wrapper gives (prompt ids for chat and plain
prompts, token and output text), and a growing answer decoded piece by piece what
decoding it whole gives."""

from __future__ import annotations

import random

import pytest
from attesta_engine.instant import InstantEngine
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.segments import SegmentCache
from attesta_engine.steps import GrowingText
from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers

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


def test_a_growing_answer_decoded_piece_by_piece_equals_the_whole(engine: InstantEngine) -> None:
    """Byte-level BPE decodes additively; every prefix of random token lists (most of them
    broken UTF-8, special tokens and end-of-sequence among them) and of a text with
    characters split across tokens must decode to what decoding it whole gives."""
    assert engine.additive_decode
    rng = random.Random(7)
    specials = [*sorted(engine.eos_token_ids), 1, 2]
    lists = [engine.text_prompt_ids("naïve café 🚨🚨 灯台 — done\ufffd and more")]
    for _ in range(60):
        tokens = [rng.randrange(engine.vocab_size) for _ in range(rng.randrange(1, 40))]
        for _ in range(rng.randrange(3)):
            tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(specials))
        lists.append(tokens)
    for tokens in lists:
        growing = GrowingText(engine.decode, additive=True)
        for end in range(1, len(tokens) + 1):
            assert growing.of(tokens[:end]) == engine.decode(tokens[:end]), tokens[:end]


def test_a_tokenizer_left_truncating_is_not_used_directly(engine: InstantEngine) -> None:
    """Another caller of the same tokenizer may leave truncation on (the wrapper does not
    switch it back off after a call); the prompt must then not be cut."""
    long_text = "word " * 300
    whole = engine.text_prompt_ids(long_text)
    backend = engine._backend
    backend.enable_truncation(max_length=8)
    try:
        assert engine.text_prompt_ids(long_text) == whole
        assert len(engine.chat_prompt_ids([{"role": "user", "content": long_text}])) > 8
    finally:
        backend.no_truncation()


def test_prompts_encoded_piece_by_piece_match_the_whole(engine: InstantEngine) -> None:
    """Recurring pieces between added tokens are kept (attesta_engine.segments); random
    texts with added tokens anywhere, twice each (the second time from memory), must give
    what encoding the whole text gives."""
    engine.text_prompt_ids("made on first use")
    segments = engine._segments[1]
    assert segments is not None
    backend = engine._backend
    rng = random.Random(3)
    added = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<repo_name>", "<reponame>"]
    alphabet = [*"ab cé\n\t灯🚨<|>_", "<|im", "_start|", "end|>", "  "]
    texts = [*TEXTS, "<|im_start|><|im_end|>", "<|im_start|<|im_start|>>", "<reponame>x"]
    for _ in range(300):
        parts = [rng.choice(alphabet) for _ in range(rng.randrange(0, 12))]
        for _ in range(rng.randrange(0, 4)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(added))
        texts.append("".join(parts))
    for text in texts * 2:
        whole = list(backend.encode(text, add_special_tokens=False).ids)
        assert engine.text_prompt_ids(text) == whole, text
    for messages in CONVERSATIONS:
        first = engine.chat_prompt_ids(messages)
        assert engine.chat_prompt_ids(messages) == first


def test_pieces_are_kept_within_bounds(
    engine: InstantEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments = SegmentCache.for_backend(engine._backend)
    assert segments is not None
    monkeypatch.setattr("attesta_engine.segments.MAX_PIECES", 4)
    monkeypatch.setattr("attesta_engine.segments.MAX_PIECE_CHARS", 10)
    for n in range(10):
        segments.encode(engine._backend, f"<|im_start|>piece {n}<|im_end|>")
        assert len(segments._pieces) <= 4
    segments.encode(engine._backend, "a long piece of text")
    assert "a long piece of text" not in segments._pieces


def test_tokenizers_with_other_cuts_are_encoded_whole() -> None:
    """An added token that strips spaces or is normalized cuts differently: no pieces."""
    for token in (AddedToken("<x>", lstrip=True), AddedToken("<x>", normalized=True)):
        tokenizer = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
        tokenizer.add_special_tokens([token])
        assert SegmentCache.for_backend(tokenizer) is None
    plain = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    plain.add_special_tokens([AddedToken("<x>", normalized=False)])
    assert SegmentCache.for_backend(plain) is not None
    plain.normalizer = normalizers.Lowercase()
    assert SegmentCache.for_backend(plain) is None


def test_tokenizers_marking_the_start_of_the_text_are_encoded_whole() -> None:
    """Metaspace with `prepend_scheme="first"` (Llama-style) prefixes only the text's first
    piece: encoded alone, the piece after an added token would get the prefix too."""
    vocab = {"[UNK]": 0, "Hello": 1, "▁Hello": 2, "[INST]": 3}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
    tokenizer.add_special_tokens([AddedToken("[INST]", normalized=False)])
    assert tokenizer.encode("[INST]Hello", add_special_tokens=False).ids == [3, 1]
    assert SegmentCache.for_backend(tokenizer) is None
    for alike in (
        pre_tokenizers.ByteLevel(add_prefix_space=False),
        pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        ),
    ):
        tokenizer.pre_tokenizer = alike
        assert SegmentCache.for_backend(tokenizer) is not None
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    assert SegmentCache.for_backend(tokenizer) is None


def test_a_token_added_later_is_cut_at_too() -> None:
    engine = InstantEngine(ensure_reference_model(), model_name=REFERENCE_MODEL, top_k=3)
    text = "before <|new_tool|> after"
    first = engine.text_prompt_ids(text)
    engine._backend.add_special_tokens([AddedToken("<|new_tool|>", normalized=False)])
    added = engine._backend.token_to_id("<|new_tool|>")
    assert engine.text_prompt_ids(text) == list(
        engine._backend.encode(text, add_special_tokens=False).ids
    )
    assert added in engine.text_prompt_ids(text) and added not in first
