"""What an executor forfeits for each invalidated inference.

Refunding a caught cheat is not enough: a cheat is caught only when it is checked, with
probability about target x detection, so a refund alone costs a cheater a few percent of
what it saves (docs/economics.md). The executor therefore forfeits, per invalidated
inference, `SLASH_MULTIPLE x fee / target(reputation)` from its epoch income (fees and
reward, never below zero). The expected forfeit per cheat is then about
`SLASH_MULTIPLE x detection x fee`, more than any saving (a saving is below the fee, or
honest work would not pay), whatever the sampling rate and however rarely it cheats.

The target is the one validators sampled under: the executor's reputation before the
epoch. Integer arithmetic throughout (the fraction is exact), so every settler agrees.
"""

from __future__ import annotations

from collections.abc import Iterable

from attesta_common.sampling_policy import target_fraction

SLASH_MULTIPLE = 1


def slash_for(cost: int, reputation: int) -> int:
    """The forfeit for one invalidated inference of `cost`, floored."""
    target = target_fraction(reputation)
    return SLASH_MULTIPLE * cost * target.denominator // target.numerator


def epoch_slash(invalidated_costs: Iterable[int], reputation: int, income: int) -> int:
    """What the executor forfeits this epoch: the sum of its slashes, at most its income."""
    return min(sum(slash_for(cost, reputation) for cost in invalidated_costs), max(income, 0))
