"""The replayable token choice.

At each position the executor reports the top-k log-probabilities of the model and picks
the next token from that reported distribution with a uniform number drawn by a
counter-based pseudo-random function of (seed, position). Anyone holding the artifact and
the seed can replay every choice; a validator can also replay it from its own
distribution. The arithmetic is plain IEEE doubles so that every replayer gets the same
result from the same numbers, and the numbers are first snapped to the reporting grid
(`attesta_common.logprob_grid`): the artifact stores grid values, so a choice made from
anything finer could not be replayed from it.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from attesta_common.logprob_grid import grid_code, to_grid_row

_DOMAIN = b"attesta-sample-v1"
_SEED_MODULUS = 1 << 64


def draw_uniform(seed: int, position: int) -> float:
    """A number in [0, 1) that depends only on (seed, position)."""
    material = _DOMAIN + (seed % _SEED_MODULUS).to_bytes(8, "big") + position.to_bytes(8, "big")
    word = int.from_bytes(hashlib.sha256(material).digest()[:8], "big")
    return (word >> 11) / float(1 << 53)


def sampling_probabilities(
    logprobs: Sequence[float], temperature: float, top_p: float, *, snap: bool = True
) -> list[float]:
    """The distribution the choice is drawn from, over the reported top-k in their order.

    The log-probabilities are snapped to the reporting grid first (`snap=False` only to
    replay a legacy ATA1 record, chosen from raw numbers). Temperature rescales
    them, the top-k are renormalised, and top_p keeps the shortest prefix of the
    (descending) list whose mass reaches top_p.
    Temperature 0 is greedy: all mass on the first maximum.
    """
    if not logprobs:
        raise ValueError("empty top-k")
    if snap:
        logprobs = to_grid_row(logprobs)
    if temperature <= 0.0:
        best = greedy_index(logprobs)
        return [1.0 if i == best else 0.0 for i in range(len(logprobs))]
    scaled = [lp / temperature for lp in logprobs]
    peak = max(scaled)
    weights = [math.exp(s - peak) for s in scaled]
    total = math.fsum(weights)
    probs = [w / total for w in weights]
    if top_p < 1.0:
        kept, mass = 0, 0.0
        for p in probs:
            kept += 1
            mass += p
            if mass >= top_p:
                break
        head = math.fsum(probs[:kept])
        probs = [p / head if i < kept else 0.0 for i, p in enumerate(probs)]
    return probs


def greedy_index(logprobs: Sequence[float]) -> int:
    """The first maximum: temperature 0's choice."""
    if not logprobs:
        raise ValueError("empty top-k")
    # max keeps the first of equal values, and index finds the first equal to it.
    return list(logprobs).index(max(logprobs))


def greedy_grid_index(logprobs: Sequence[float]) -> int:
    """`greedy_index` of the row snapped to the grid, from the grid codes alone: a value
    falls as its code rises, so the first maximum is the first least code (every token
    of a greedy answer passes here, and the values cost a power each)."""
    if not logprobs:
        raise ValueError("empty top-k")
    codes = [grid_code(lp) for lp in logprobs]
    return codes.index(min(codes))


def choose_index(probs: Sequence[float], u: float) -> int:
    """Inverse-CDF choice: the first index whose cumulative mass exceeds u."""
    cumulative = 0.0
    last_nonzero = 0
    for i, p in enumerate(probs):
        if p <= 0.0:
            continue
        last_nonzero = i
        cumulative += p
        if u < cumulative:
            return i
    return last_nonzero


def boundary_distance(probs: Sequence[float], u: float) -> float:
    """How far u lies from the nearest cumulative boundary that separates two choices."""
    cumulative, nearest = 0.0, math.inf
    nonzero = [p for p in probs if p > 0.0]
    for p in nonzero[:-1]:
        cumulative += p
        nearest = min(nearest, abs(u - cumulative))
    return nearest


def choose_token(
    token_ids: Sequence[int],
    logprobs: Sequence[float],
    temperature: float,
    top_p: float,
    seed: int,
    position: int,
    *,
    snap: bool = True,
) -> int:
    if temperature <= 0.0:
        # Greedy: all mass on one token, so no draw can change the choice; the draw's hash
        # is skipped (the same index `choose_index` would give for every u).
        return token_ids[greedy_grid_index(logprobs) if snap else greedy_index(logprobs)]
    probs = sampling_probabilities(logprobs, temperature, top_p, snap=snap)
    return token_ids[choose_index(probs, draw_uniform(seed, position))]
