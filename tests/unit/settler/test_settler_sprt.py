"""The SPRT that marks an executor invalid, against exact rational arithmetic."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from attesta_settler.sprt import Sprt, longest_invalid_run


def _exact_rejects(outcomes: list[bool], sprt: Sprt) -> bool:
    ratio = Fraction(1)
    for bad in outcomes:
        ratio *= sprt.p1 / sprt.p0 if bad else (1 - sprt.p1) / (1 - sprt.p0)
        if ratio >= sprt.upper_bound:
            return True
    return False


def test_two_invalidations_from_the_start_reach_the_bound() -> None:
    sprt = Sprt()
    assert not sprt.rejects([True])
    assert sprt.rejects([True, True])


def test_clean_history_rejects_nothing_and_lowers_the_ratio() -> None:
    sprt = Sprt()
    assert not sprt.rejects([False] * 500)
    assert sprt.log_ratio([False] * 10) == 10 * sprt.step_valid < 0


def test_history_buys_tolerance_for_isolated_invalidations() -> None:
    sprt = Sprt()
    # 20 valid results put the ratio at (18/19)^20 ~ 0.34: two invalidations give ~1.36.
    assert not sprt.rejects([False] * 20 + [True, True])
    assert sprt.rejects([False] * 20 + [True, True, True, True])


def test_steps_are_the_log_likelihoods_in_nano_nats() -> None:
    sprt = Sprt()
    assert sprt.step_invalidated == 693_147_181  # ln 2
    assert sprt.step_valid == -54_067_221  # ln(0.90 / 0.95)
    assert sprt.threshold == 1_386_294_361  # ln 4


@pytest.mark.parametrize("seed", range(5))
def test_matches_exact_rational_test_on_random_histories(seed: int) -> None:
    sprt = Sprt()
    rng = random.Random(seed)
    for _ in range(300):
        rate = rng.choice([0.02, 0.05, 0.1, 0.2])
        outcomes = [rng.random() < rate for _ in range(rng.randint(0, 80))]
        assert sprt.rejects(outcomes) == _exact_rejects(outcomes, sprt)


def test_rejects_invalid_parameters() -> None:
    with pytest.raises(ValueError):
        Sprt(p0=Fraction(1, 5), p1=Fraction(1, 10))
    with pytest.raises(ValueError):
        Sprt(upper_bound=Fraction(1))


def test_longest_invalid_run() -> None:
    assert longest_invalid_run([]) == 0
    assert longest_invalid_run([False, True, True, False, True, True, True, False]) == 3
