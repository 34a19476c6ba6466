"""Epochs, epoch seeds and the auditable executor draw."""

from __future__ import annotations

from collections import Counter

import pytest
from attesta_common.epochs import draw_executor, epoch_at, epoch_end_ms, epoch_seed
from attesta_common.genesis import Genesis


def test_epoch_boundaries(genesis: Genesis) -> None:
    start = genesis.genesis_time_ms
    assert epoch_at(genesis, start) == 0
    assert epoch_at(genesis, epoch_end_ms(genesis, 0) - 1) == 0
    assert epoch_at(genesis, epoch_end_ms(genesis, 0)) == 1
    assert epoch_seed(genesis, 1) != epoch_seed(genesis, 2)


def test_draw_is_deterministic_order_free_and_weighted() -> None:
    seed = bytes(32)
    candidates = [("attesta1b", 300), ("attesta1a", 100)]
    assert draw_executor(seed, "x", candidates) == draw_executor(seed, "x", candidates[::-1])
    counts = Counter(draw_executor(seed, f"id-{i}", candidates) for i in range(4000))
    assert abs(counts["attesta1b"] / 4000 - 0.75) < 0.03


def test_draw_needs_positive_weight() -> None:
    with pytest.raises(ValueError):
        draw_executor(bytes(32), "x", [("attesta1a", 0)])
