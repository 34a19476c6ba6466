"""The grid every reported log-probability lies on.

The Gonka distance is relative (|v - o| / (|v| + |o|)), so a log-probability needs
relative precision: a confident token at -1e-4 matters as much as one at -10. A
log-probability lp is represented by the integer code round(log2(-lp) * 2^16) and its grid
value is -2^(code / 2^16): a relative step of ln2 * 2^-16, which moves a distance term by
at most about 2^-16 / 2.9 (measured: 0.7% of the 2e-4 threshold at worst; see
docs/detection.md).

Engines choose every token from grid values and report grid values, so the compact
artifact, which stores the codes, replays exactly and the client's `logprobs` are the
artifact's numbers. Snapping a grid value again gives the same value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

FRACTION_BITS = 16
_SCALE = float(1 << FRACTION_BITS)
# log_softmax of a certain token gives 0 (or a float hair above); a masked one gives -inf.
_MIN_MAGNITUDE_LOG2 = -60
_MAX_MAGNITUDE_LOG2 = 20
MIN_CODE = _MIN_MAGNITUDE_LOG2 << FRACTION_BITS
MAX_CODE = _MAX_MAGNITUDE_LOG2 << FRACTION_BITS


def grid_code(logprob: float) -> int:
    magnitude = -logprob
    if magnitude > 0.0:  # false for NaN
        if magnitude == math.inf:
            return MAX_CODE
        code = round(math.log2(magnitude) * _SCALE)
        return MIN_CODE if code < MIN_CODE else MAX_CODE if code > MAX_CODE else code
    if math.isnan(magnitude):
        raise ValueError("a log-probability is NaN")
    return MIN_CODE


def grid_value(code: int) -> float:
    if not MIN_CODE <= code <= MAX_CODE:
        raise ValueError(f"log-probability code {code} is outside the grid")
    return -math.pow(2.0, code / _SCALE)


def to_grid(logprob: float) -> float:
    return grid_value(grid_code(logprob))


def to_grid_row(logprobs: Iterable[float]) -> tuple[float, ...]:
    # A code from grid_code is always in range: its value needs no check (every token of
    # every engine passes here, several times).
    return tuple([-math.pow(2.0, grid_code(lp) / _SCALE) for lp in logprobs])


def snap_row(logprobs: Iterable[float]) -> tuple[tuple[float, ...], tuple[int, ...]]:
    """`to_grid_row` and the codes it went through (what the compact artifact stores), so
    that encoding the row later need not find them again."""
    codes = tuple([grid_code(lp) for lp in logprobs])
    return tuple([-math.pow(2.0, code / _SCALE) for code in codes]), codes
