"""The economics simulator: its rules match the settler's, its Monte Carlo matches the
closed forms, and the issue's goals hold (the catch goal, and no profitable cheating under
the settler's slashing, which the old rules without it did not give)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from attesta_common.genesis import Genesis, Participant
from attesta_common.roles import Role
from attesta_common.sampling_policy import check_probability, target_rate
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement
from attesta_settler.sprt import Sprt, longest_invalid_run

from bench.economics.model import (
    Economics,
    Network,
    Rules,
    Validator,
    canary_flag_probability,
    epoch_income,
    has_run,
    invalidation_probability,
    sprt_rejects,
)
from bench.economics.simulate import (
    Scenario,
    catch_times,
    expected_profit,
    geometric_median,
    geometric_within,
    probabilities,
)
from bench.economics.strategies import CHEATERS, HONEST, parse_detection

FULL_TIME = CHEATERS[0]
SMALL = Economics(inferences_per_epoch=500)


def test_check_probabilities_are_the_sampling_policy() -> None:
    network = Network(validators=(Validator(weight=100), Validator(weight=300)))
    for reputation in range(0, 101, 5):
        ours = network.check_probabilities(target_rate(reputation))
        theirs = [check_probability(reputation, w, 400, 0) for w in (100, 300)]
        assert ours == pytest.approx(theirs, abs=1e-12)


def test_vectorised_sprt_and_runs_match_the_settler() -> None:
    rng = np.random.default_rng(0)
    sprt = Sprt()
    for p in (0.02, 0.1, 0.3):
        rows = rng.random((200, 60)) < p
        assert sprt_rejects(rows, sprt).tolist() == [sprt.rejects(r.tolist()) for r in rows]
        assert has_run(rows, 5).tolist() == [longest_invalid_run(r.tolist()) >= 5 for r in rows]


def test_invalidation_probability_matches_a_per_validator_draw() -> None:
    network = Network(validators=(Validator(), Validator(), Validator(skip=0.5, rubber_stamp=True)))
    target, detection = 0.6, 0.7
    rng = np.random.default_rng(1)
    draws = 200_000
    fail = np.zeros(draws, dtype=int)
    passed = np.zeros(draws, dtype=int)
    for v, owed in zip(network.validators, network.check_probabilities(target), strict=True):
        checks = rng.random(draws) < owed
        lazy = checks & (rng.random(draws) < v.skip)
        checks &= ~lazy
        fails = checks & (rng.random(draws) < detection)
        fail += v.weight * fails
        passed += v.weight * ((checks & ~fails) | (lazy & v.rubber_stamp))
    exact = invalidation_probability(network, target, detection)
    assert np.mean(fail > passed) == pytest.approx(exact, abs=0.005)


@pytest.mark.parametrize("reputation", [0, 50, 100])
def test_epoch_income_matches_compute_settlement(reputation: int) -> None:
    """One epoch through the settler's own `compute_settlement`: same fees, status, reward
    and slash, at the target the executor's reputation gives."""
    economics = Economics(inferences_per_epoch=40, epoch_reward_pool=1000)
    rng = np.random.default_rng(2)
    for p in (0.0, 0.01, 0.05, 0.5):
        invalidated = rng.random((1, 40)) < p
        participants = [
            Participant(address="e-cheat", public_key="k", roles=[Role.EXECUTOR], weight=100),
            Participant(address="e-honest", public_key="k", roles=[Role.EXECUTOR], weight=100),
            Participant(address="v", public_key="k", roles=[Role.VALIDATOR], weight=100),
        ]
        genesis = Genesis(
            genesis_time_ms=0, participants=participants, models=[], epoch_reward_pool=1000
        )
        rows, verdicts = [], []
        for i, bad in enumerate(invalidated[0]):
            for who in ("e-cheat", "e-honest"):
                iid = f"{who}-{i:03d}"
                rows.append(InferenceRow(iid, who, "acct", i, "finished", i, int(economics.fee)))
                verdicts.append(VerdictRow(iid, "v", not (bad and who == "e-cheat"), i))
        prior = {"e-cheat": reputation, "e-honest": reputation}
        settled = compute_settlement(genesis, 1, 10**6, rows, verdicts, None, prior)
        cheat = next(s for s in settled.participants if s.address == "e-cheat")
        income, _, marked = epoch_income(
            invalidated,
            np.zeros_like(invalidated),
            economics,
            Rules(),
            target_rate(reputation),
            economics.executor_reward(2),
        )
        assert bool(marked[0]) == (cheat.status == "invalid")
        # The settler's reward when the cheater stays active equals the even share; the
        # settler floors each slash to an integer, the model does not.
        assert income[0] == pytest.approx(cheat.payout, abs=1 + int(invalidated.sum()))
        assert (cheat.slashed > 0) == bool(invalidated.any())


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.1])
def test_monte_carlo_agrees_with_the_geometric_closed_form(rate: float) -> None:
    scenario = Scenario(rate, 0.999)
    p_cheat, _ = probabilities(Network(), scenario)
    times = catch_times(
        np.random.default_rng(3), Network(), SMALL, Rules(), scenario, FULL_TIME, 3000, 1
    )
    for n in (10, 50, 200):
        assert times.within(n) == pytest.approx(geometric_within(p_cheat, n), abs=0.03)
    median = geometric_median(p_cheat)
    assert median is not None
    assert float(np.median(times.caught)) == pytest.approx(median, rel=0.1, abs=1)


def test_full_time_cheater_at_one_percent_is_caught_within_500_with_99_percent() -> None:
    scenario = Scenario(0.01, 0.999)
    p_cheat, _ = probabilities(Network(), scenario)
    assert geometric_within(p_cheat, 500) >= 0.99
    times = catch_times(
        np.random.default_rng(4), Network(), SMALL, Rules(), scenario, FULL_TIME, 4000, 1
    )
    assert times.within(500) >= 0.985  # MC standard error ~0.0013 around 0.993


def test_full_time_cheating_loses_when_sampling_marks_it_invalid() -> None:
    # At 10% the SPRT marks a full-time cheater invalid almost every epoch: its reward is gone.
    result = expected_profit(
        np.random.default_rng(5),
        Network(),
        SMALL,
        Rules(),
        Scenario(0.1, 0.999),
        FULL_TIME,
        HONEST,
        500,
    )
    assert result.p_marked > 0.9
    assert result.profit < 0


@pytest.mark.parametrize("rate", [0.01, 0.05, 0.1])
def test_no_strategy_profits_under_the_settlers_rules(rate: float) -> None:
    rng = np.random.default_rng(6)
    for strategy in CHEATERS:
        result = expected_profit(
            rng,
            Network(),
            SMALL,
            Rules(),
            Scenario(rate, 0.999),
            strategy,
            HONEST,
            4000,
        )
        assert result.profit + 3 * result.stderr < 0, strategy.name


def test_without_slashing_part_time_cheating_paid() -> None:
    """Why the settler slashes: under the old rules (refund only) a part-time cheater at a 1%
    target came out ahead."""
    result = expected_profit(
        np.random.default_rng(8),
        Network(),
        SMALL,
        Rules(slash_multiple=0.0),
        Scenario(0.01, 0.999),
        CHEATERS[1],
        HONEST,
        4000,
    )
    assert result.profit - 3 * result.stderr > 0


def test_undetectable_cheating_would_pay_even_with_slashing() -> None:
    """The property the suite leans on: with detection 0 nothing is ever invalidated, so the
    saving is pure profit; if the model could not show that, the tests above prove nothing."""
    rng = np.random.default_rng(7)
    for rules in (Rules(slash_multiple=0.0), Rules()):
        result = expected_profit(
            rng, Network(), SMALL, rules, Scenario(0.01, 0.0), FULL_TIME, HONEST, 200
        )
        saving = SMALL.inferences_per_epoch * (SMALL.honest_cost - SMALL.cheat_cost)
        assert result.profit == pytest.approx(saving)
        assert result.profit > 0


def test_parse_detection_reads_pairs_and_the_detection_json(tmp_path: Path) -> None:
    assert parse_detection("a=1,b=0.5") == {"a": 1.0, "b": 0.5}
    line = {"detection": {"x": 0.9, "skipped": None}, "mode": "quick"}
    path = tmp_path / "detection.json"
    path.write_text("noise\n" + json.dumps(line) + "\n", encoding="utf-8")
    assert parse_detection(str(path)) == {"x": 0.9}
    line["detection"] = {"x": 1.0, "y": 1.0, "z": 0.5}
    line["detection_miss_estimate"] = {"x": 1e-4, "y": None, "z": 1e-3}
    path.write_text(json.dumps(line) + "\n", encoding="utf-8")
    assert parse_detection(str(path)) == {"x": 0.9999, "y": 1.0, "z": 0.5}
    with pytest.raises(ValueError):
        parse_detection("a=1.5")


def test_canary_flag_probability_matches_a_per_check_draw() -> None:
    rng = np.random.default_rng(9)
    owed, rate, stamp, epochs = 40, 0.05, 0.5, 100_000
    canary = rng.random((epochs, owed)) < rate / (1 + rate)
    stamped = rng.random((epochs, owed)) < stamp
    flagged = (canary & stamped).any(axis=1).mean()
    assert flagged == pytest.approx(canary_flag_probability(owed, rate, stamp), abs=0.005)
    assert canary_flag_probability(owed, rate, 0.0) == 0.0
