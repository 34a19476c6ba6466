"""The Gonka distance between the executor's reported log-probabilities and the validator's.

Relative differences, so that a confident position (log-probabilities near 0) weighs as much
as an uncertain one: per position the mean over the k reported tokens of
|v - o| / (|v| + |o| + eps), then the mean over positions. Each term lies in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_EPS = 1e-9
# A token the validator cannot score (id outside the vocabulary: -inf) or a non-finite
# number is as far off as the formula allows, and keeps the distance a finite, signable float.
_WORST = 1.0


def token_distance(validator_logprob: float, reported_logprob: float) -> float:
    if not (math.isfinite(validator_logprob) and math.isfinite(reported_logprob)):
        return _WORST
    return abs(validator_logprob - reported_logprob) / (
        abs(validator_logprob) + abs(reported_logprob) + _EPS
    )


def position_distance(
    validator_logprobs: Sequence[float], reported_logprobs: Sequence[float]
) -> float:
    if len(validator_logprobs) != len(reported_logprobs) or not reported_logprobs:
        return _WORST
    return math.fsum(
        token_distance(v, o) for v, o in zip(validator_logprobs, reported_logprobs, strict=True)
    ) / len(reported_logprobs)


def gonka_distance(
    validator_rows: Sequence[Sequence[float]], reported_rows: Sequence[Sequence[float]]
) -> float:
    """Mean position distance; 0 for an empty output (nothing to disagree about)."""
    if len(validator_rows) != len(reported_rows):
        return _WORST
    if not reported_rows:
        return 0.0
    return math.fsum(
        position_distance(v, o) for v, o in zip(validator_rows, reported_rows, strict=True)
    ) / len(reported_rows)
