"""The canary executor's spoiled result: wrong against the model, right against itself."""

from __future__ import annotations

import pytest
from attesta_common.events import SamplingParams
from attesta_engine.port import GenerationSpec
from attesta_executor.canary import SPOIL_SCALE, CanarySpoiler
from attesta_validator.replay import replay_reported
from executor_fakes import FakeEngine


@pytest.mark.parametrize(("temperature", "top_p"), [(0.0, 1.0), (1.0, 1.0), (1.3, 0.9)])
def test_spoiled_numbers_still_replay_to_the_same_tokens(temperature: float, top_p: float) -> None:
    kept_rows = 0
    for seed in range(40):
        sampling = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=64, seed=seed)
        honest = FakeEngine().generate(GenerationSpec([1], temperature, top_p, 64, seed))
        spoiled = CanarySpoiler.spoil(honest, sampling)
        assert spoiled.output_token_ids == honest.output_token_ids
        # The cheap check a lazy validator could run sees nothing.
        assert replay_reported(spoiled.artifact, spoiled.output_token_ids, sampling) == []
        for before, after in zip(honest.artifact.logprobs, spoiled.artifact.logprobs, strict=True):
            if after == before:
                kept_rows += 1
            else:
                # Stored on the reporting grid, like every artifact (relative step 1e-5).
                assert after == pytest.approx([lp * SPOIL_SCALE for lp in before], rel=1e-5)
    # Only draws right at a boundary keep their numbers; almost every row is spoiled.
    assert kept_rows < 0.05 * 40 * 64
