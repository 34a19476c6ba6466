"""Interval estimates for detection and false-positive rates, in plain Python."""

from __future__ import annotations

import math

_Z95 = 1.959963984540054


def wilson(successes: int, total: int, z: float = _Z95) -> tuple[float, float]:
    """Two-sided 95% Wilson score interval; (0, 1) when nothing was observed."""
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def zero_failure_upper(total: int, confidence: float = 0.95) -> float:
    """Exact one-sided Clopper-Pearson upper bound for 0 failures in `total` trials.

    Solves (1 - p)^n = 1 - confidence; about 3/n (the rule of three) for large n.
    """
    if total == 0:
        return 1.0
    return 1.0 - float((1.0 - confidence) ** (1.0 / total))


def failure_upper(failures: int, total: int) -> float:
    """Upper 95% bound on a failure rate: exact for 0 failures, Wilson otherwise."""
    if failures == 0:
        return zero_failure_upper(total)
    return wilson(failures, total)[1]
