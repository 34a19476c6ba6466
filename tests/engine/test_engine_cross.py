"""Honest work from one engine passes a validator running the other: the validator's own
replay and distance, at the genesis model's calibration."""

from __future__ import annotations

import pytest
from attesta_common.events import SamplingParams
from engine_cases import MODES, TOKENS, generated, spec_for
from engine_pool import ENGINES, EnginePool

pytestmark = pytest.mark.model
# The genesis defaults of ModelSpec (not imported: attesta_common.genesis needs coincurve,
# which the vLLM environment does not carry).
DISTANCE_THRESHOLD = 2e-4
REPLAY_TOLERANCE = 1e-3


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("validator", ENGINES)
@pytest.mark.parametrize("generator", ENGINES)
def test_honest_work_passes_either_validator(
    engine_pool: EnginePool, generator: str, validator: str, mode: str
) -> None:
    replay = pytest.importorskip("attesta_validator.replay")
    distance = pytest.importorskip("attesta_validator.distance")
    producer, checker = engine_pool.get(generator), engine_pool.get(validator)
    generation = generated(producer, mode)
    spec = spec_for(producer, mode)
    sampling = SamplingParams(
        temperature=spec.temperature, top_p=spec.top_p, max_tokens=TOKENS, seed=spec.seed
    )
    output = generation.output_token_ids
    scores = checker.score(generation.prompt_token_ids, output, generation.artifact.token_ids)
    own = replay.replay_own(scores, output, sampling, REPLAY_TOLERANCE)
    assert own.mismatches == ()
    gap = distance.gonka_distance([s.lookup_logprobs for s in scores], generation.artifact.logprobs)
    assert gap < DISTANCE_THRESHOLD
