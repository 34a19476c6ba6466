"""The miss estimate of bench.detection: fitted silence probabilities per signal."""

from __future__ import annotations

import math

import pytest

from bench.detection.evidence import Evidence, estimate, silent_count, silent_distance


def test_distance_far_above_threshold_is_almost_never_silent() -> None:
    ratios = [60.0, 70.0, 80.0, 65.0, 75.0, 90.0]
    assert silent_distance(ratios) < 1e-12


def test_distance_near_threshold_is_often_silent() -> None:
    # log-ratios centred on 0: half the inferences would pass.
    assert silent_distance([0.5, 2.0, 0.8, 1.25, 1.0, 1.0]) == pytest.approx(0.5, abs=0.05)


def test_too_few_samples_give_no_estimate() -> None:
    assert silent_distance([50.0, 60.0]) is None
    assert silent_count([3, 4]) is None


def test_poisson_when_counts_are_not_overdispersed() -> None:
    assert silent_count([5, 5, 5, 5, 5]) == pytest.approx(math.exp(-5))


def test_overdispersed_counts_are_more_often_zero_than_poisson() -> None:
    counts = [1, 30, 2, 25, 3, 40, 1, 20]
    mean = sum(counts) / len(counts)
    assert silent_count(counts) > math.exp(-mean)


def test_all_zero_counts_are_always_silent() -> None:
    assert silent_count([0] * 6) == 1.0


def test_miss_is_the_quietest_signal_bound() -> None:
    evidence = [Evidence(False, 0, 10 + i % 3, 0.01) for i in range(8)]
    fitted = estimate(evidence)
    assert not fitted.by_rule
    assert fitted.silent["reported_replay"] == 1.0  # the reported numbers replay fine
    assert fitted.silent["distance"] == pytest.approx(1.0)  # laundering: distance ~0
    assert fitted.miss == fitted.silent["own_replay"] < 1e-3


def test_structure_rule_in_every_sample_is_caught_by_rule() -> None:
    evidence = [Evidence(True, None, None, None) for _ in range(6)]
    fitted = estimate(evidence)
    assert fitted.by_rule and fitted.miss == 0.0


def test_a_signal_missing_on_some_sample_is_not_fitted() -> None:
    evidence = [Evidence(False, 3 if i else None, 4, 5.0) for i in range(6)]
    assert estimate(evidence).silent["reported_replay"] is None
