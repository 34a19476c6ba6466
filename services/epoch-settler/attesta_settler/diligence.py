"""Did each validator do the checks it owed, and did it accuse honestly?

A validator reveals after the epoch the seed it committed to at its start; from it, the
same rule the validator samples with (`attesta_common.sampling_policy.check_owed`) gives
the checks it owed. It is flagged, and gets no share of the validator pool, when:

- `seed_unrevealed`: it revealed no seed although the epoch had work for it;
- `seed_mismatch`: the revealed seed does not hash to its commitment (or it committed
  none), so its sampling cannot be audited;
- `skipped_checks`: having done `done` of `owed` checks is implausible for a validator
  that misses at most `allowed_miss` of its checks (crashes, late records), i.e.
  P(X <= done) < alpha for X ~ Binomial(owed, 1 - allowed_miss);
- `overruled_accuser`: at least `max_overruled` of its failed verdicts lost the weighted
  vote in the epoch.

Everything is exact (integers and fractions), so every settler reaches the same flags.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from attesta_common.genesis import Genesis
from attesta_common.sampling_policy import check_owed

SEED_UNREVEALED = "seed_unrevealed"
SEED_MISMATCH = "seed_mismatch"
SKIPPED_CHECKS = "skipped_checks"
OVERRULED_ACCUSER = "overruled_accuser"


@dataclass(frozen=True)
class DiligencePolicy:
    allowed_miss: Fraction = Fraction(1, 100)
    alpha: Fraction = Fraction(1, 1000)
    max_overruled: int = 3


@dataclass(frozen=True)
class DiligenceInputs:
    """What the audit of an epoch needs besides its inferences and verdicts."""

    commitments: Mapping[str, str] = field(default_factory=dict)  # validator -> seed hash
    reveals: Mapping[str, str] = field(default_factory=dict)  # validator -> seed (hex)
    # Executor reputation the checks were owed under (see `owed_reputation`).
    reputation: Mapping[str, int] = field(default_factory=dict)


def owed_reputation(*settlements: Mapping[str, int]) -> dict[str, int]:
    """The reputation an audit assumes: the highest of the two settlements before the epoch.

    A validator decides with the newest settlement it holds of an epoch before the
    inference's; early in an epoch that may still be the one before the previous. The
    higher reputation gives the lower probability, and the draw is `u < p`, so a validator
    following either settlement has done every check owed under the higher one.
    """
    merged: dict[str, int] = {}
    for scores in settlements:
        for address, score in scores.items():
            merged[address] = max(merged.get(address, 0), score)
    return merged


def implausibly_few(done: int, owed: int, policy: DiligencePolicy) -> bool:
    """P(X <= done) < alpha for X ~ Binomial(owed, 1 - allowed_miss), computed exactly."""
    if owed <= 0 or done >= owed:
        return False
    hit = 1 - policy.allowed_miss
    a, b = hit.numerator, hit.denominator  # success probability a / b

    def term(k: int) -> int:  # C(n, k) a^k (b - a)^(n - k), over b^n
        # int(): `int ** int` is typed as Any (a negative exponent would give a float).
        return math.comb(owed, k) * int(a**k) * int((b - a) ** (owed - k))

    total = int(b**owed)
    # Sum the shorter side of the distribution: usually the few misses above `done`.
    if done < owed - done:
        low = sum(term(k) for k in range(done + 1))
    else:
        low = total - sum(term(k) for k in range(done + 1, owed + 1))
    return low * policy.alpha.denominator < policy.alpha.numerator * total


def seed_flag(validator: str, inputs: DiligenceInputs) -> tuple[bytes | None, str | None]:
    """(seed, None) when the reveal opens the commitment, else (None, flag)."""
    revealed = inputs.reveals.get(validator)
    if revealed is None:
        return None, SEED_UNREVEALED
    try:
        seed = bytes.fromhex(revealed)
    except ValueError:
        return None, SEED_MISMATCH
    if inputs.commitments.get(validator) != hashlib.sha256(seed).hexdigest():
        return None, SEED_MISMATCH
    return seed, None


@dataclass(frozen=True)
class Assessment:
    owed: int
    flags: list[str]


def assess_validator(
    genesis: Genesis,
    validator: str,
    finished: Iterable[tuple[str, str]],
    judged: set[str],
    overruled: int,
    inputs: DiligenceInputs,
    policy: DiligencePolicy,
) -> Assessment:
    """`finished`: (inference id, executor) of the epoch; `judged`: ids it gave a verdict on."""
    flags: list[str] = []
    others = [(i, e) for i, e in finished if e != validator]
    owed = 0
    if others:
        seed, flag = seed_flag(validator, inputs)
        if flag is not None:
            flags.append(flag)
        else:
            assert seed is not None
            owed_ids = [
                inference_id
                for inference_id, executor in others
                if check_owed(
                    genesis,
                    validator=validator,
                    executor=executor,
                    reputation=inputs.reputation.get(executor, 0),
                    seed=seed,
                    inference_id=inference_id,
                )[1]
            ]
            owed = len(owed_ids)
            done = sum(1 for i in owed_ids if i in judged)
            if implausibly_few(done, owed, policy):
                flags.append(SKIPPED_CHECKS)
    if overruled >= policy.max_overruled:
        flags.append(OVERRULED_ACCUSER)
    return Assessment(owed, sorted(flags))
