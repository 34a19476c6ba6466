"""Replaying every token choice: from the executor's reported top-k, and from the validator's own.

The reported replay is exact: the executor must have picked each token with
`choose_token` from exactly the numbers it reported, so any disagreement is a lie about the
numbers, the sampling parameters or the seed. The own replay uses the validator's
teacher-forced distribution, which agrees with an honest executor's only to float noise; a
different choice is excused when that noise could explain it, i.e. when the uniform draw
lies within `tolerance` of a cumulative boundary, or (greedy) when the two candidates'
log-probabilities are within `tolerance` of each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from attesta_common.artifact import TopKArtifact
from attesta_common.events import SamplingParams
from attesta_common.sampling import (
    boundary_distance,
    choose_index,
    choose_token,
    draw_uniform,
    sampling_probabilities,
)
from attesta_engine.port import PositionScores


def replay_reported(
    artifact: TopKArtifact, output_ids: Sequence[int], sampling: SamplingParams
) -> list[int]:
    """Positions whose output token is not the choice from the reported top-k."""
    t, top_p, seed = sampling.temperature, sampling.top_p, sampling.seed
    rows = zip(artifact.token_ids, artifact.logprobs, output_ids, strict=True)
    return [
        position
        for position, (ids, logprobs, token) in enumerate(rows)
        if choose_token(ids, logprobs, t, top_p, seed, position, snap=artifact.on_grid) != token
    ]


@dataclass(frozen=True)
class OwnReplay:
    """Positions where the validator's own choice differs: excused as noise, or not."""

    mismatches: tuple[int, ...]
    tolerated: tuple[int, ...]


def _excused(
    scores: PositionScores, token: int, sampling: SamplingParams, u: float, tolerance: float
) -> bool:
    if token not in scores.topk_ids:
        return False
    if sampling.temperature <= 0.0:
        # Greedy has no cumulative boundary: only a near-tie of the two log-probabilities
        # can flip the argmax between two honest float computations.
        best = max(scores.topk_logprobs)
        return best - scores.topk_logprobs[scores.topk_ids.index(token)] < tolerance
    probs = sampling_probabilities(scores.topk_logprobs, sampling.temperature, sampling.top_p)
    return boundary_distance(probs, u) < tolerance


def replay_own(
    scores: Sequence[PositionScores],
    output_ids: Sequence[int],
    sampling: SamplingParams,
    tolerance: float,
) -> OwnReplay:
    mismatches: list[int] = []
    tolerated: list[int] = []
    for position, (own, token) in enumerate(zip(scores, output_ids, strict=True)):
        u = draw_uniform(sampling.seed, position)
        probs = sampling_probabilities(own.topk_logprobs, sampling.temperature, sampling.top_p)
        if own.topk_ids[choose_index(probs, u)] == token:
            continue
        if _excused(own, token, sampling, u, tolerance):
            tolerated.append(position)
        else:
            mismatches.append(position)
    return OwnReplay(tuple(mismatches), tuple(tolerated))
