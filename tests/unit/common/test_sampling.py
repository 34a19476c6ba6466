"""The replayable token choice."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest
from attesta_common.logprob_grid import to_grid, to_grid_row
from attesta_common.sampling import (
    boundary_distance,
    choose_index,
    choose_token,
    draw_uniform,
    greedy_grid_index,
    greedy_index,
    sampling_probabilities,
)

LOGPROBS = [math.log(p) for p in (0.5, 0.2, 0.15, 0.1, 0.05)]
IDS = [11, 22, 33, 44, 55]


def test_uniform_depends_only_on_seed_and_position() -> None:
    assert draw_uniform(7, 3) == draw_uniform(7, 3)
    assert draw_uniform(7, 3) != draw_uniform(7, 4)
    assert draw_uniform(7, 3) != draw_uniform(8, 3)
    assert 0.0 <= draw_uniform(-1, 0) < 1.0
    assert draw_uniform(-1, 0) == draw_uniform(2**64 - 1, 0)


def test_choices_are_made_from_grid_values() -> None:
    # A number and its grid value give the same distribution, to the last bit.
    on_grid = [to_grid(lp) for lp in LOGPROBS]
    assert on_grid != LOGPROBS
    assert sampling_probabilities(LOGPROBS, 0.9, 0.95) == sampling_probabilities(on_grid, 0.9, 0.95)


def test_greedy_puts_all_mass_on_first_maximum() -> None:
    assert sampling_probabilities(LOGPROBS, 0.0, 1.0) == [1.0, 0.0, 0.0, 0.0, 0.0]
    for position in range(50):
        assert choose_token(IDS, LOGPROBS, 0.0, 1.0, 1, position) == 11


def test_greedy_shortcut_chooses_as_the_full_draw_does() -> None:
    # Temperature 0 skips the draw; the choice must be the one the inverse CDF makes from
    # the one-hot distribution for any u, including ties that only snapping creates.
    rng = random.Random(4)
    tie = [-1.0, math.nextafter(-1.0, 0.0), -2.0]
    assert to_grid(tie[0]) == to_grid(tie[1])
    rows = [tie, [-3.0, -0.5, -0.5], *([rng.uniform(-12, 0) for _ in range(5)] for _ in range(200))]
    for row in rows:
        for snap in (True, False):
            probs = sampling_probabilities(row, 0.0, 0.7, snap=snap)
            for u in (0.0, 0.5, 0.999999):
                expected = IDS[choose_index(probs, u)]
                assert choose_token(IDS[: len(row)], row, 0.0, 0.7, 9, 3, snap=snap) == expected


def test_greedy_on_codes_is_greedy_on_grid_values() -> None:
    rng = random.Random(8)
    edges = [0.0, 1.0, -math.inf, -1e-300, -1e300, math.nextafter(-1.0, 0.0), -1.0]
    rows = [[rng.choice(edges) for _ in range(4)] for _ in range(200)]
    rows += [[rng.uniform(-30, 0) for _ in range(rng.randrange(1, 9))] for _ in range(500)]
    # Neighbours that snap together or apart.
    rows += [[-1.0 - rng.randrange(4) * 1e-3 for _ in range(5)] for _ in range(200)]
    for row in rows:
        assert greedy_grid_index(row) == greedy_index(to_grid_row(row)), row
    for bad in ([], [math.nan, -1.0]):
        with pytest.raises(ValueError):
            greedy_grid_index(bad)


def test_greedy_index_is_the_first_maximum() -> None:
    def first_maximum(row: list[float]) -> int:
        return max(range(len(row)), key=lambda i: (row[i], -i))

    rng = random.Random(2)
    values = [0.0, -0.0, -1.0, -math.inf, math.inf, math.nan, -2.5]
    rows = [[rng.choice(values) for _ in range(rng.randrange(1, 6))] for _ in range(3000)]
    for row in rows:
        assert greedy_index(row) == first_maximum(row), row


def test_top_p_keeps_the_shortest_prefix_reaching_p() -> None:
    # 0.69, not 0.7: on the reporting grid 0.5 + 0.2 may land a hair below 0.7.
    probs = sampling_probabilities(LOGPROBS, 1.0, 0.69)
    assert probs[2:] == [0.0, 0.0, 0.0]
    assert math.isclose(sum(probs), 1.0)
    assert math.isclose(probs[0], 0.5 / 0.7, rel_tol=1e-5)


def test_temperature_sharpens_and_flattens() -> None:
    cold = sampling_probabilities(LOGPROBS, 0.5, 1.0)
    hot = sampling_probabilities(LOGPROBS, 1.5, 1.0)
    assert cold[0] > sampling_probabilities(LOGPROBS, 1.0, 1.0)[0] > hot[0]


def test_choices_follow_the_distribution() -> None:
    counts = Counter(choose_token(IDS, LOGPROBS, 1.0, 1.0, 42, p) for p in range(20000))
    for token, expected in zip(IDS, (0.5, 0.2, 0.15, 0.1, 0.05), strict=True):
        assert abs(counts[token] / 20000 - expected) < 0.015


@pytest.mark.parametrize("u", [0.0, 0.49, 0.5, 0.69, 0.7, 0.999999])
def test_inverse_cdf_and_boundary_distance(u: float) -> None:
    probs = [0.5, 0.2, 0.3]
    index = choose_index(probs, u)
    assert index == (0 if u < 0.5 else 1 if u < 0.7 else 2)
    assert math.isclose(boundary_distance(probs, u), min(abs(u - 0.5), abs(u - 0.7)))


def test_empty_top_k_is_an_error() -> None:
    with pytest.raises(ValueError):
        sampling_probabilities([], 1.0, 1.0)
    with pytest.raises(ValueError):
        choose_token([], [], 0.0, 1.0, 1, 0)
