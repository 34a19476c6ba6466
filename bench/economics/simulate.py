"""Monte Carlo over epochs, and the closed forms it is checked against.

An inference is invalidated with the probability `model.invalidation_probability` gives
(the validators' sampling and the weighted vote), independently of the others; a cheat
with the detection rate, honest work with the false-positive rate. Each epoch the settler
marks the executor invalid when `model.marked_invalid` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.economics.model import (
    BoolArray,
    Economics,
    FloatArray,
    Network,
    Rules,
    epoch_income,
    invalidation_probability,
    marked_invalid,
)
from bench.economics.strategies import Strategy


@dataclass(frozen=True)
class Scenario:
    target: float  # the executor's sampling target (1% for a fully trusted executor)
    detection: float  # P(a check fails a cheat)
    false_positive: float = 0.0  # P(a check fails honest work)


def probabilities(network: Network, scenario: Scenario) -> tuple[float, float]:
    """P(invalidated) for a cheat and for an honest inference."""
    return (
        invalidation_probability(network, scenario.target, scenario.detection),
        invalidation_probability(network, scenario.target, scenario.false_positive),
    )


def _epoch_draw(
    rng: np.random.Generator,
    rows: int,
    inferences: int,
    cheat_fraction: float,
    p_cheat: float,
    p_honest: float,
) -> tuple[BoolArray, BoolArray]:
    cheated: BoolArray = rng.random((rows, inferences)) < cheat_fraction
    chance = np.where(cheated, p_cheat, p_honest)
    invalidated: BoolArray = rng.random((rows, inferences)) < chance
    return cheated, invalidated


@dataclass(frozen=True)
class CatchTimes:
    """Per trial, inferences served until the first invalidated cheat ("caught") and until
    the end of the first epoch the settler marks the executor invalid; inf when not within
    the horizon."""

    caught: FloatArray
    marked: FloatArray
    horizon: int

    def within(self, n: int) -> float:
        return float(np.mean(self.caught <= n))

    @staticmethod
    def median(times: FloatArray) -> float | None:
        value = float(np.median(times))
        return None if math.isinf(value) else value


def catch_times(
    rng: np.random.Generator,
    network: Network,
    economics: Economics,
    rules: Rules,
    scenario: Scenario,
    strategy: Strategy,
    trials: int,
    epochs: int,
) -> CatchTimes:
    p_cheat, p_honest = probabilities(network, scenario)
    n = economics.inferences_per_epoch
    caught = np.full(trials, np.inf)
    marked = np.full(trials, np.inf)
    for epoch in range(epochs):
        # Only the trials still waiting for an answer are drawn: the study stays fast even
        # where marking is rare.
        live = np.flatnonzero(np.isinf(caught) | np.isinf(marked))
        if live.size == 0:
            break
        cheated, invalidated = _epoch_draw(
            rng, live.size, n, strategy.cheat_fraction, p_cheat, p_honest
        )
        hits = cheated & invalidated
        first = np.argmax(hits, axis=1)
        found = hits.any(axis=1) & np.isinf(caught[live])
        caught[live[found]] = epoch * n + first[found] + 1
        newly = marked_invalid(invalidated, rules) & np.isinf(marked[live])
        # The settler decides at the epoch's end, so that is when the executor is marked.
        marked[live[newly]] = (epoch + 1) * n
    return CatchTimes(caught, marked, epochs * n)


def geometric_within(p: float, n: int) -> float:
    """P(first success within n trials): the closed form for "caught"."""
    return 1.0 - (1.0 - p) ** n


def geometric_median(p: float) -> float | None:
    if p <= 0.0:
        return None
    if p >= 1.0:
        return 1.0
    return float(math.ceil(math.log(0.5) / math.log1p(-p)))


@dataclass(frozen=True)
class Profit:
    profit: float  # E[cheater income - cost] - E[honest income - cost], per epoch
    stderr: float
    honest_net: float  # E[honest income - cost], per epoch
    p_marked: float  # P(marked invalid in the epoch)
    p_caught: float  # P(at least one cheat invalidated in the epoch)


def expected_profit(
    rng: np.random.Generator,
    network: Network,
    economics: Economics,
    rules: Rules,
    scenario: Scenario,
    strategy: Strategy,
    honest: Strategy,
    trials: int,
) -> Profit:
    """One epoch at a fixed sampling target, the cheater against an honest executor.

    The epoch is the unit because the settler's decisions (SPRT, runs, reward, reputation)
    all start afresh each epoch. Reputation's own effect (an invalid executor restarts at
    reputation 0, fully checked) is left out: it only lowers a cheater's future savings,
    so leaving it out errs on the side of calling cheating profitable.
    """
    p_cheat, p_honest = probabilities(network, scenario)
    reward = economics.executor_reward(network.executors)
    n = economics.inferences_per_epoch
    nets = []
    marked_rate = caught_rate = 0.0
    for who in (strategy, honest):
        cheated, invalidated = _epoch_draw(rng, trials, n, who.cheat_fraction, p_cheat, p_honest)
        income, cost, marked = epoch_income(
            invalidated, cheated, economics, rules, scenario.target, reward
        )
        nets.append(income - cost)
        if who is strategy:
            marked_rate = float(marked.mean())
            caught_rate = float((cheated & invalidated).any(axis=1).mean())
    cheat_net, honest_net = nets
    diff = float(cheat_net.mean() - honest_net.mean())
    stderr = math.sqrt(float(cheat_net.var() + honest_net.var()) / trials)
    return Profit(diff, stderr, float(honest_net.mean()), marked_rate, caught_rate)
