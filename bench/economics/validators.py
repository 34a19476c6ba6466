"""The validators' side of the economics: lazy validators thin out sampling, and canaries
make rubber-stamping cost more than it saves."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.economics import tables
from bench.economics.goals import GOAL_WITHIN, HEADLINE_RATE
from bench.economics.model import Economics, Network, Rules, Validator, canary_flag_probability
from bench.economics.simulate import (
    CatchTimes,
    Scenario,
    catch_times,
    geometric_median,
    geometric_within,
    probabilities,
)
from bench.economics.strategies import CHEATERS


def _lazy_networks() -> list[tuple[str, Network]]:
    """Ten equal validators, some lazy: which share, how lazy, skipping or rubber-stamping."""
    configs = [
        (0, 0.0, False),
        (3, 1.0, False),
        (5, 0.5, False),
        (5, 1.0, False),
        (10, 0.5, False),
        (10, 0.9, False),
        (5, 1.0, True),
    ]
    out = []
    for lazy, skip, stamp in configs:
        validators = tuple(
            Validator(skip=skip if i < lazy else 0.0, rubber_stamp=stamp) for i in range(10)
        )
        mode = "rubber-stamp" if stamp else "skip"
        out.append((f"{lazy}/10 lazy, {mode} {skip:.0%}", Network(validators=validators)))
    return out


def lazy_validator_table(
    rng: np.random.Generator,
    economics: Economics,
    rules: Rules,
    scenario: Scenario,
    trials: int,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """A full-time cheater at the headline target against networks with lazy validators."""
    rows = []
    out: dict[str, dict[str, Any]] = {}
    for name, lazy_net in tqdm(_lazy_networks(), desc="lazy", file=sys.stderr):
        p_cheat, _ = probabilities(lazy_net, scenario)
        times = catch_times(rng, lazy_net, economics, rules, scenario, CHEATERS[0], trials, 2)
        out[name] = {
            "p_invalidated": round(p_cheat, 6),
            "median_closed": geometric_median(p_cheat),
            "p_within_500": round(geometric_within(p_cheat, 500), 4),
        }
        rows.append(
            [
                name,
                f"{p_cheat:.5f}",
                tables.fmt(geometric_median(p_cheat)),
                tables.fmt(CatchTimes.median(times.caught)),
                f"{geometric_within(p_cheat, GOAL_WITHIN):.4f}",
            ]
        )
    text = tables.table(
        "Lazy validators, full-time cheater at 1% target (MC horizon 2 epochs)",
        ["validators", "P(inv|cheat)", "median closed", "MC", f"P(<={GOAL_WITHIN})"],
        rows,
    )
    return text, out


def canary_table(
    network: Network, economics: Economics, validate_cost: float
) -> tuple[str, dict[str, float]]:
    """A rubber-stamping validator's chance to pass a canary per epoch, against its saving."""
    rows = []
    out: dict[str, float] = {}
    owed = sum(network.check_probabilities(HEADLINE_RATE)) / len(network.validators)
    owed_checks = owed * economics.inferences_per_epoch * network.executors
    share = economics.epoch_reward_pool * economics.validator_reward_share_percent // 100
    validator_share = share / len(network.validators)
    check_cost = validate_cost * economics.honest_cost
    for canary_rate in (0.01, 0.05):
        for stamp in (1.0, 0.5, 0.1):
            p_flag = canary_flag_probability(owed_checks, canary_rate, stamp)
            saving = owed_checks * stamp * check_cost
            loss = p_flag * validator_share
            out[f"canary {canary_rate:.0%}, stamp {stamp:.0%}"] = round(p_flag, 4)
            rows.append(
                [
                    f"{canary_rate:.0%}",
                    f"{stamp:.0%}",
                    f"{p_flag:.4f}",
                    f"{loss:.0f}",
                    f"{saving:.1f}",
                    f"{loss - saving:+.0f}",
                ]
            )
    text = tables.table(
        f"Rubber-stamping validator vs canaries at 1% target ({owed_checks:.0f} owed checks "
        f"per epoch; validator share {validator_share:.0f}; a check costs {check_cost:g})",
        ["canary rate", "stamped", "P(flag)/epoch", "E[loss]", "saving", "loss - saving"],
        rows,
    )
    return text, out
