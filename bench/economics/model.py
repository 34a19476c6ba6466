"""The economic model: parameters, the chance an inference is invalidated, the SPRT as
array arithmetic, and what an executor earns in an epoch.

Every rule comes from the code the network runs, never restated by hand where it can be
imported: the validators' owed-check probability is `sampling_policy.check_probability`,
the vote is `settlement._judge`'s rule (failing weight > passing weight), and the SPRT
steps and threshold are `Sprt`'s own integers, so a change to the settler moves these
numbers too.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from attesta_common.genesis import Genesis
from attesta_settler.settlement import MAX_INVALID_RUN
from attesta_settler.slashing import SLASH_MULTIPLE
from attesta_settler.sprt import Sprt

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]


def _genesis_default(name: str) -> int:
    # The genesis defaults are the network's economics; reading them from the model keeps
    # the simulation in step with `attesta_common.genesis` without building a document.
    value = Genesis.model_fields[name].default
    assert isinstance(value, int)
    return value


@dataclass(frozen=True)
class Validator:
    """One validator: its weight, and how lazy it is on the checks it owes.

    `skip` is the fraction of owed checks it does not do; `rubber_stamp` says whether it
    then publishes a passing verdict anyway (which weighs against honest failing verdicts
    in the vote) or nothing at all.
    """

    weight: int = 100
    skip: float = 0.0
    rubber_stamp: bool = False


@dataclass(frozen=True)
class Network:
    validators: tuple[Validator, ...] = tuple(Validator() for _ in range(10))
    executors: int = 10  # equal weight, so the executor pool splits evenly among the active
    executor_weight: int = 100

    def check_probabilities(self, target: float) -> list[float]:
        """Per validator, the probability it owes a check on one inference.

        `sampling_policy.check_probability` with the target given directly instead of
        through a reputation, so the study can ask for exactly 1%, 5% or 10%; the tests
        hold the two equal at every reputation. The executor is not a validator here, so
        no weight is subtracted from the total.
        """
        total = sum(v.weight for v in self.validators)
        if target >= 1.0:
            return [1.0 for _ in self.validators]
        return [min(1.0, target * v.weight / total) for v in self.validators]


@dataclass(frozen=True)
class Economics:
    """Money per inference and per epoch, in the genesis unit (price_per_token = 1)."""

    tokens_per_inference: int = 256
    inferences_per_epoch: int = 1000  # per executor
    # Honest compute cost as a fraction of the fee: the executor's margin is 1 - this.
    compute_cost_to_fee: float = 0.5
    # A cheap substitute (smaller or quantized model, cached answer) costs this fraction of
    # the honest compute: 10-50% in practice.
    cheap_cost_fraction: float = 0.3
    price_per_token: int = field(default_factory=lambda: _genesis_default("price_per_token"))
    epoch_reward_pool: int = field(default_factory=lambda: _genesis_default("epoch_reward_pool"))
    validator_reward_share_percent: int = field(
        default_factory=lambda: _genesis_default("validator_reward_share_percent")
    )

    @property
    def fee(self) -> float:
        return float(self.tokens_per_inference * self.price_per_token)

    @property
    def honest_cost(self) -> float:
        return self.fee * self.compute_cost_to_fee

    @property
    def cheat_cost(self) -> float:
        return self.honest_cost * self.cheap_cost_fraction

    def executor_reward(self, active_executors: int) -> float:
        # settlement.compute_settlement: the pool minus the validator share, split by weight
        # (here equal) among active executors with at least one valid inference.
        pool = self.epoch_reward_pool
        share = pool - pool * self.validator_reward_share_percent // 100
        return float(share // max(active_executors, 1))


@dataclass(frozen=True)
class Rules:
    """The settlement rules; the defaults are the settler's (`attesta_settler.slashing`).

    For every invalidated inference the settler debits `slash_multiple * fee / target`
    from the executor's epoch income (fees and reward, never below zero). With the check
    probability at `target`, a cheat is invalidated with probability ~target * detection,
    so the expected debit per cheat is ~slash_multiple * detection * fee: it outweighs any
    saving (< fee) whatever the sampling rate and however rarely the executor cheats.
    `slash_multiple = 0` is the settler before slashing, kept for comparison.
    """

    sprt: Sprt = field(default_factory=Sprt)
    max_invalid_run: int = MAX_INVALID_RUN
    slash_multiple: float = float(SLASH_MULTIPLE)

    @property
    def label(self) -> str:
        if self.slash_multiple == 0:
            return "no slash (old rules)"
        return f"settler (slash {self.slash_multiple:g}x)"


def invalidation_probability(network: Network, target: float, fail_given_check: float) -> float:
    """P(an inference is invalidated) under settlement's weighted vote.

    Exact, by dynamic programming over (failing weight - passing weight): each validator
    independently owes a check with its `check_probability`; when it does the check its
    verdict fails with `fail_given_check` (the detection rate on a cheat, the false-positive
    rate on honest work); a lazy validator skips, or rubber-stamps a pass.
    """
    margin: dict[int, float] = {0: 1.0}
    for validator, owed in zip(
        network.validators, network.check_probabilities(target), strict=True
    ):
        checked = owed * (1.0 - validator.skip)
        stamped = owed * validator.skip if validator.rubber_stamp else 0.0
        moves = {
            validator.weight: checked * fail_given_check,
            -validator.weight: checked * (1.0 - fail_given_check) + stamped,
        }
        nxt: dict[int, float] = defaultdict(float)
        for diff, p in margin.items():
            stay = 1.0 - sum(moves.values())
            nxt[diff] += p * stay
            for step, q in moves.items():
                nxt[diff + step] += p * q
        margin = dict(nxt)
    return sum(p for diff, p in margin.items() if diff > 0)


def sprt_rejects(invalidated: BoolArray, sprt: Sprt) -> BoolArray:
    """`Sprt.rejects` on every row at once: the same integer steps, the same threshold."""
    steps = np.where(invalidated, sprt.step_invalidated, sprt.step_valid).astype(np.int64)
    running = np.cumsum(steps, axis=1)
    rejected: BoolArray = np.asarray((running >= sprt.threshold).any(axis=1), dtype=bool)
    return rejected


def has_run(invalidated: BoolArray, length: int) -> BoolArray:
    """`longest_invalid_run(row) >= length` on every row at once."""
    if invalidated.shape[1] < length:
        none: BoolArray = np.zeros(invalidated.shape[0], dtype=bool)
        return none
    counts = np.cumsum(invalidated, axis=1, dtype=np.int32)
    padded = np.concatenate([np.zeros((counts.shape[0], 1), dtype=np.int32), counts], axis=1)
    window = padded[:, length:] - padded[:, :-length]
    found: BoolArray = np.asarray((window == length).any(axis=1), dtype=bool)
    return found


def marked_invalid(invalidated: BoolArray, rules: Rules) -> BoolArray:
    """settlement._executor_settlement: SPRT rejects or `max_invalid_run` in a row."""
    run: BoolArray = has_run(invalidated, rules.max_invalid_run)
    return sprt_rejects(invalidated, rules.sprt) | run


def epoch_income(
    invalidated: BoolArray,
    cheated: BoolArray,
    economics: Economics,
    rules: Rules,
    target: float,
    reward: float,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Per row (one epoch of one executor): income, compute cost, marked invalid.

    Income is the fees of valid inferences (invalidated ones are refunded) plus the
    executor's reward share unless marked invalid, minus the slash.
    """
    valid = (~invalidated).sum(axis=1)
    marked = marked_invalid(invalidated, rules)
    # `reward` is the share with every executor active: when this one is marked invalid
    # its share goes to the others, which does not change what it loses.
    earned = np.where(marked | (valid == 0), 0.0, reward)
    income = valid * economics.fee + earned
    if rules.slash_multiple > 0:
        slash = invalidated.sum(axis=1) * rules.slash_multiple * economics.fee / target
        income = np.maximum(income - slash, 0.0)
    cost = np.where(cheated, economics.cheat_cost, economics.honest_cost).sum(axis=1)
    return income.astype(np.float64), cost.astype(np.float64), marked


def canary_flag_probability(owed_checks: float, canary_rate: float, stamp_fraction: float) -> float:
    """P(a rubber-stamping validator passes at least one canary in an epoch).

    The gateway plants one canary per real request with probability `canary_rate`, so a
    share c / (1 + c) of all inferences, and owed checks fall on them alike (a validator
    cannot tell them apart). Each owed check is stamped instead of done with probability
    `stamp_fraction`; one stamped canary flags the validator (`approved_canary`).
    """
    per_check = canary_rate / (1.0 + canary_rate) * stamp_fraction
    return float(1.0 - (1.0 - per_check) ** owed_checks)
