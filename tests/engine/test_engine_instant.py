"""The instant test engine keeps the engine contract: it fits the port, every token replays
from its reported top-k, the streamed steps add up to the text and the artifact, and its
own teacher-forced scores agree with what it reported."""

from __future__ import annotations

import pytest
from attesta_common.sampling import choose_token
from attesta_engine.instant import InstantEngine
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import ConcurrentEngine, Engine, GenerationSpec, TokenStep

PROMPT = [{"role": "user", "content": "Tell me about lighthouses."}]


@pytest.fixture(scope="module")
def instant() -> InstantEngine:
    return InstantEngine(ensure_reference_model(), model_name=REFERENCE_MODEL, top_k=5)


def _spec(engine: InstantEngine, temperature: float, max_tokens: int) -> GenerationSpec:
    return GenerationSpec(engine.chat_prompt_ids(PROMPT), temperature, 0.95, max_tokens, seed=7)


def test_satisfies_the_port(instant: InstantEngine) -> None:
    engine: Engine = instant  # checked by mypy; the asserts cover the runtime shape
    assert engine.model_name == REFERENCE_MODEL
    assert engine.top_k == 5
    assert engine.eos_token_ids and all(0 <= t < engine.vocab_size for t in engine.eos_token_ids)
    assert engine.decode(engine.text_prompt_ids("hello world")) == "hello world"


@pytest.mark.parametrize(("temperature", "max_tokens"), [(0.0, 8), (0.0, 200), (0.9, 64)])
def test_tokens_replay_and_steps_add_up(
    instant: InstantEngine, temperature: float, max_tokens: int
) -> None:
    spec = _spec(instant, temperature, max_tokens)
    steps: list[TokenStep] = []
    generation = instant.generate(spec, on_step=steps.append)
    output = generation.output_token_ids
    assert 0 < len(output) <= max_tokens
    assert [s.position for s in steps] == list(range(len(output)))
    assert [s.token_id for s in steps] == output
    assert "".join(s.text_delta for s in steps) == generation.text
    artifact = generation.artifact
    assert artifact.positions == len(output)
    for position, token in enumerate(output):
        ids, lps = artifact.token_ids[position], artifact.logprobs[position]
        assert len(ids) == len(set(ids)) == 5
        assert list(lps) == sorted(lps, reverse=True)
        assert choose_token(ids, lps, temperature, spec.top_p, spec.seed, position) == token
    # No end-of-sequence before the last token; a 'stop' ends on one.
    assert not any(t in instant.eos_token_ids for t in output[:-1])
    if generation.finish_reason == "stop":
        assert output[-1] in instant.eos_token_ids
    else:
        assert len(output) == max_tokens


def test_greedy_answer_is_the_fixed_sentence(instant: InstantEngine) -> None:
    generation = instant.generate(_spec(instant, 0.0, 200))
    assert generation.finish_reason == "stop"
    assert generation.text.startswith("The lighthouse keeper")


def test_scores_match_the_reported_top_k(instant: InstantEngine) -> None:
    generation = instant.generate(_spec(instant, 0.9, 32))
    artifact = generation.artifact
    scores = instant.score(
        generation.prompt_token_ids, generation.output_token_ids, artifact.token_ids
    )
    assert len(scores) == len(generation.output_token_ids)
    for position, score in enumerate(scores):
        assert score.topk_ids == tuple(artifact.token_ids[position])
        assert score.lookup_logprobs == tuple(artifact.logprobs[position])


async def test_awaited_like_the_production_engine(instant: InstantEngine) -> None:
    # A ConcurrentEngine is awaited on the loop (as vLLM's is), not sent to a worker thread.
    assert isinstance(instant, ConcurrentEngine)
    steps: list[TokenStep] = []
    spec = _spec(instant, 0.0, 12)
    generation = await instant.generate_async(spec, steps.append)
    assert generation == instant.generate(spec)
    assert [s.token_id for s in steps] == generation.output_token_ids
