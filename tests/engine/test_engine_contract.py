"""The engine port's contract, for every adapter: what executors and validators rely on."""

from __future__ import annotations

import pytest
from attesta_common.sampling import choose_token
from attesta_engine.port import Engine, GenerationCancelled, TokenStep
from engine_cases import LOGPROB_TOLERANCE, MODES, PROMPT, TOKENS, generated, spec_for
from engine_pool import EnginePool

pytestmark = pytest.mark.model


def test_prompt_ids_and_vocabulary_match_the_reference(
    engine: Engine, engine_pool: EnginePool
) -> None:
    reference = engine_pool.get("reference")
    assert engine.chat_prompt_ids(PROMPT) == reference.chat_prompt_ids(PROMPT)
    assert engine.text_prompt_ids("Hello there") == reference.text_prompt_ids("Hello there")
    assert engine.eos_token_ids == reference.eos_token_ids
    assert engine.vocab_size == reference.vocab_size


@pytest.mark.parametrize("mode", MODES)
def test_top_k_is_sorted_and_every_token_replays_from_it(engine: Engine, mode: str) -> None:
    generation = generated(engine, mode)
    temperature, top_p = MODES[mode]
    seed = spec_for(engine, mode).seed
    artifact = generation.artifact
    assert 0 < len(generation.output_token_ids) <= TOKENS
    for position, token in enumerate(generation.output_token_ids):
        ids, lps = artifact.token_ids[position], artifact.logprobs[position]
        assert len(ids) == engine.top_k
        assert list(lps) == sorted(lps, reverse=True)
        assert choose_token(ids, lps, temperature, top_p, seed, position) == token


@pytest.mark.parametrize("mode", MODES)
def test_top_k_matches_the_reference_engine(
    engine: Engine, engine_pool: EnginePool, mode: str
) -> None:
    ours, theirs = generated(engine, mode), generated(engine_pool.get("reference"), mode)
    # Same model, same dtype, same choice rule: the same tokens.
    assert ours.output_token_ids == theirs.output_token_ids
    for a_ids, a_lps, b_ids, b_lps in zip(
        ours.artifact.token_ids,
        ours.artifact.logprobs,
        theirs.artifact.token_ids,
        theirs.artifact.logprobs,
        strict=True,
    ):
        assert a_ids[0] == b_ids[0]
        looked = dict(zip(b_ids, b_lps, strict=True))
        for token, lp in zip(a_ids, a_lps, strict=True):
            if token in looked:
                assert lp == pytest.approx(looked[token], abs=LOGPROB_TOLERANCE)


def test_streamed_deltas_make_up_the_text(engine: Engine) -> None:
    steps: list[TokenStep] = []
    generation = engine.generate(spec_for(engine, "sampled", seed=5), steps.append)
    assert [s.position for s in steps] == list(range(len(generation.output_token_ids)))
    assert [s.token_id for s in steps] == generation.output_token_ids
    assert "".join(s.text_delta for s in steps) == generation.text
    assert generation.text == engine.decode(generation.output_token_ids)


def test_a_stop_sequence_ends_the_text_before_it(engine: Engine) -> None:
    full = generated(engine, "greedy").text
    words = full.split()
    assert len(words) >= 3, full
    stop = " " + words[2]
    steps: list[TokenStep] = []
    generation = engine.generate(spec_for(engine, "greedy", stop=(stop,)), steps.append)
    assert generation.finish_reason == "stop"
    assert generation.text == full[: full.index(stop)]
    assert "".join(s.text_delta for s in steps) == generation.text
    assert len(generation.output_token_ids) < TOKENS


def test_should_stop_cancels_the_generation(engine: Engine) -> None:
    steps: list[TokenStep] = []
    with pytest.raises(GenerationCancelled):
        engine.generate(spec_for(engine, "sampled", seed=9), steps.append, lambda: len(steps) >= 3)
    assert len(steps) < TOKENS


@pytest.mark.parametrize("mode", MODES)
def test_prefill_scores_match_the_generation(engine: Engine, mode: str) -> None:
    generation = generated(engine, mode)
    artifact = generation.artifact
    scores = engine.score(
        generation.prompt_token_ids, generation.output_token_ids, artifact.token_ids
    )
    assert len(scores) == len(generation.output_token_ids)
    for position, score in enumerate(scores):
        assert score.topk_ids[0] == artifact.token_ids[position][0]
        assert score.lookup_logprobs == pytest.approx(
            artifact.logprobs[position], abs=LOGPROB_TOLERANCE
        )
        assert score.topk_logprobs == pytest.approx(
            artifact.logprobs[position], abs=LOGPROB_TOLERANCE
        )
