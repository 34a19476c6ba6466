"""bench.detection.merge: runs over disjoint samples add up into one report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench.detection.evidence import Evidence
from bench.detection.merge import _summary, merge
from bench.detection.report import detection_row


def _run(caught: int, total: int, own: list[int], checks: int, failures: int) -> dict[str, Any]:
    evidence = [Evidence(False, 0, n, 0.01, 0.5) for n in own]
    row = detection_row(
        "sampling-greedy",
        "e",
        caught=caught,
        total=total,
        skipped=0,
        min_distance=2e-6,
        evidence=evidence,
    )
    return {
        "max_tokens": 64,
        "top_k": 3,
        "detection_detail": {"sampling-greedy": row},
        "honest_checks": checks,
        "honest_failures": failures,
        "honest_by_kind": {"engine": {"checks": checks, "failures": failures}},
    }


def test_counts_add_and_the_estimate_is_fitted_over_every_sample(tmp_path: Path) -> None:
    first, second = _run(3, 3, [9, 10, 11], 100, 0), _run(3, 3, [10, 12, 8], 50, 0)
    path = tmp_path / "run.json"
    path.write_text("progress\n" + json.dumps(first) + "\n", encoding="utf-8")
    merged = merge([_summary(path), second])
    row = merged["detection_detail"]["sampling-greedy"]
    assert (row["caught"], row["total"]) == (6, 6)
    assert len(row["samples"]) == 6
    # Three samples each are too few to fit; six are enough.
    assert first["detection_detail"]["sampling-greedy"]["miss_estimate"] is None
    assert row["miss_estimate"] is not None and row["miss_estimate"] < 1e-3
    assert merged["honest_checks"] == 150 and merged["honest_failures"] == 0
    assert merged["honest_by_kind"]["engine"]["checks"] == 150


def test_runs_of_other_lengths_are_refused() -> None:
    other = _run(1, 1, [3], 1, 0) | {"max_tokens": 32}
    with pytest.raises(ValueError):
        merge([_run(1, 1, [3], 1, 0), other])
