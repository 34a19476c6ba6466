"""The compact artifact codec prototype round-trips within its stated precision."""

from __future__ import annotations

import random

from attesta_common.artifact import TopKArtifact
from attesta_validator.distance import gonka_distance

from bench.detection import compact_codec


def _artifact(positions: int, seed: int = 1) -> TopKArtifact:
    rng = random.Random(seed)
    ids = [rng.sample(range(49152), 5) for _ in range(positions)]
    lps = [sorted((-rng.expovariate(0.3) for _ in range(5)), reverse=True) for _ in ids]
    lps[0][0] = -1e-6  # a near-certain token: relative precision matters most here
    return TopKArtifact.build(5, ids, lps)


def test_round_trip_keeps_ids_and_relative_precision() -> None:
    original = _artifact(64)
    blob = compact_codec.encode(original, 16)
    back = compact_codec.decode(blob)
    assert back.token_ids == original.token_ids
    # Each term moves by at most ~ln2 * 2^-17; 1% of the 2e-4 threshold is 2e-6.
    assert gonka_distance(original.logprobs, back.logprobs) < 2e-6
    assert len(blob) < len(original.encode())


def test_coarser_codes_are_smaller() -> None:
    original = _artifact(64)
    assert len(compact_codec.encode(original, 8)) < len(compact_codec.encode(original, 16))
