"""Wald's sequential probability ratio test on an executor's invalidation record.

Each finished inference is a Bernoulli trial: invalidated or not. H0 says the executor
is invalidated at the honest noise rate p0, H1 at the cheating rate p1. After every
outcome the log-likelihood ratio moves by ln(p1/p0) (invalidated) or
ln((1-p1)/(1-p0)) (valid); once it reaches ln(A) H0 is rejected and the executor is
marked invalid, as in Gonka.

Log-likelihoods are kept as integers (nano-nats): every settler, on any platform, must
reach the same decision bit for bit, and a float sum would let a last-ulp difference in
`math.log` flip a verdict that sits on the boundary. Rounding to 1e-9 nats erases such
differences long before they could matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

_SCALE = 10**9


def _nano_log(value: Fraction) -> int:
    return round(math.log(value) * _SCALE)


@dataclass(frozen=True)
class Sprt:
    p0: Fraction = Fraction(5, 100)
    p1: Fraction = Fraction(10, 100)
    upper_bound: Fraction = Fraction(4)

    def __post_init__(self) -> None:
        if not 0 < self.p0 < self.p1 < 1:
            raise ValueError("SPRT needs 0 < p0 < p1 < 1")
        if self.upper_bound <= 1:
            raise ValueError("SPRT upper bound must exceed 1")

    @property
    def step_invalidated(self) -> int:
        return _nano_log(self.p1 / self.p0)

    @property
    def step_valid(self) -> int:
        return _nano_log((1 - self.p1) / (1 - self.p0))

    @property
    def threshold(self) -> int:
        return _nano_log(self.upper_bound)

    def log_ratio(self, outcomes: Iterable[bool]) -> int:
        """Final log-likelihood ratio in nano-nats; `True` means invalidated."""
        invalidated_step, valid_step = self.step_invalidated, self.step_valid
        return sum(invalidated_step if bad else valid_step for bad in outcomes)

    def rejects(self, outcomes: Iterable[bool]) -> bool:
        """True once the running ratio reaches the upper bound: H0 (honest) rejected."""
        invalidated_step, valid_step, threshold = (
            self.step_invalidated,
            self.step_valid,
            self.threshold,
        )
        running = 0
        for bad in outcomes:
            running += invalidated_step if bad else valid_step
            if running >= threshold:
                return True
        return False


def longest_invalid_run(outcomes: Iterable[bool]) -> int:
    longest = current = 0
    for bad in outcomes:
        current = current + 1 if bad else 0
        longest = max(longest, current)
    return longest
