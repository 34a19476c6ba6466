"""The miss estimate of bench.detection: fitted silence probabilities per signal."""

from __future__ import annotations

import math

import pytest
from attesta_common.events import SamplingParams
from attesta_engine.port import PositionScores

from bench.detection.evidence import (
    Evidence,
    accept_probability,
    estimate,
    silent_count,
    silent_distance,
)


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


def _scores(ids: tuple[int, ...], probs: tuple[float, ...]) -> PositionScores:
    lps = tuple(math.log(p) for p in probs)
    return PositionScores(topk_ids=ids, topk_logprobs=lps, lookup_logprobs=lps)


def test_accept_probability_is_the_tokens_own_mass_plus_the_band() -> None:
    own = _scores((5, 7, 9), (0.7, 0.2, 0.1))
    sampled = SamplingParams(temperature=1.0, top_p=1.0, seed=3, max_tokens=8)
    assert accept_probability(own, 7, sampled, 1e-3) == pytest.approx(0.2 + 4e-3, abs=1e-4)
    assert accept_probability(own, 11, sampled, 1e-3) == 0.0  # not in the own top-k


def test_accept_probability_greedy_is_all_or_nothing() -> None:
    own = _scores((5, 7, 9), (0.7, 0.2, 0.1))
    greedy = SamplingParams(temperature=0.0, top_p=1.0, seed=3, max_tokens=8)
    assert accept_probability(own, 5, greedy, 1e-3) == 1.0
    assert accept_probability(own, 7, greedy, 1e-3) == 0.0


def test_last_token_cheat_is_estimated_by_the_fresh_draw() -> None:
    evidence = [Evidence(False, 0, 1, 0.01, last_accept=a) for a in (1e-4, 3e-4, 2e-4, 0, 0)]
    fitted = estimate(evidence, last_token_only=True)
    assert fitted.silent["last_token_fresh_draw"] == pytest.approx(1.2e-4)
    assert fitted.miss == pytest.approx(1.2e-4)  # the count model of one position says ~0.37
