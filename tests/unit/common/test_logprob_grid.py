"""The reporting grid: relative precision, idempotent, total over what engines emit."""

from __future__ import annotations

import math
import random

import pytest
from attesta_common.logprob_grid import (
    FRACTION_BITS,
    grid_code,
    grid_value,
    snap_row,
    to_grid,
    to_grid_row,
)


def test_relative_error_is_half_a_step_and_snapping_is_idempotent() -> None:
    rng = random.Random(3)
    half_step = math.log(2) * 2.0 ** -(FRACTION_BITS + 1) * 1.0001
    for _ in range(20_000):
        lp = -math.exp(rng.uniform(-30, 4))
        on_grid = to_grid(lp)
        assert abs(on_grid - lp) <= abs(lp) * half_step
        assert to_grid(on_grid) == on_grid


def test_order_is_kept() -> None:
    values = sorted((-math.exp(x / 100) for x in range(-2000, 500)), reverse=True)
    snapped = [to_grid(v) for v in values]
    assert snapped == sorted(snapped, reverse=True)


def test_certain_and_masked_tokens_have_grid_values() -> None:
    assert to_grid(0.0) == to_grid(1e-7) < 0.0
    assert to_grid(0.0) > -1e-17
    assert to_grid(float("-inf")) == -(2.0**20)


def test_nan_and_off_grid_codes_are_refused() -> None:
    with pytest.raises(ValueError):
        grid_code(float("nan"))
    with pytest.raises(ValueError):
        grid_value(10**9)


def test_snapping_moves_the_distance_by_less_than_1_percent_of_the_threshold() -> None:
    from attesta_validator.distance import gonka_distance

    rng = random.Random(1)
    raw = [sorted((-rng.expovariate(0.3) for _ in range(3)), reverse=True) for _ in range(64)]
    raw[0][0] = -1e-6  # a near-certain token: relative precision matters most here
    snapped = [[to_grid(lp) for lp in row] for row in raw]
    # Each term moves by at most ~ln2 * 2^-17 / 2; 1% of the 2e-4 threshold is 2e-6.
    assert 0.0 < gonka_distance(raw, snapped) < 2e-6


def test_snapping_a_row_keeps_the_codes_it_went_through() -> None:
    row = (-0.0, -1e-30, -0.01, -2.5, -17.0, -math.inf)
    values, codes = snap_row(row)
    assert values == to_grid_row(row)
    assert codes == tuple(grid_code(lp) for lp in row)
    assert tuple(grid_value(code) for code in codes) == values
