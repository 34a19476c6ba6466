"""How the honest controls split their checks between kinds (no model needed)."""

from __future__ import annotations

import pytest

from bench.detection.honest import CROSS, MIX, honest_checks, plan


def test_default_plan_covers_every_local_kind_in_whole_batches() -> None:
    counts = plan(1000)
    assert set(counts) == set(MIX)
    assert all(counts[kind] % MIX[kind][1] == 0 for kind in counts)
    assert abs(sum(counts.values()) - 1000) <= 16


def test_kinds_limit_the_plan_and_fill_the_total() -> None:
    counts = plan(400, list(CROSS))
    assert counts == {"vllm->reference": 200, "reference->vllm": 200}
    assert plan(10, ["batch-16"]) == {"batch-16": 16}


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown honest kinds"):
        plan(10, ["engine", "gpu"])


def test_no_honest_checks_when_none_are_asked_for() -> None:
    assert list(honest_checks(None, 0, 8)) == []  # type: ignore[arg-type]
