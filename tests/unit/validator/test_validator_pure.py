"""The validator's pure logic: distance, replays, structure, selection, reputation."""

from __future__ import annotations

import math

from attesta_common.artifact import TopKArtifact
from attesta_common.events import EpochSettled, ParticipantSettlement, SamplingParams
from attesta_common.genesis import Genesis
from attesta_common.roles import Role
from attesta_common.sampling import choose_token, draw_uniform, sampling_probabilities
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.port import PositionScores
from attesta_validator.distance import gonka_distance, position_distance, token_distance
from attesta_validator.replay import replay_own, replay_reported
from attesta_validator.reputation import ReputationBook
from attesta_validator.selection import (
    SeedCommitments,
    decide,
    seed_commitment,
    validator_seed,
)
from attesta_validator.structure import artifact_problems, summarise_positions

IDS = (10, 20, 30, 40, 50)
LPS = (-1.0, -1.5, -2.0, -3.0, -4.0)


def test_distance_is_relative_and_bounded() -> None:
    assert token_distance(-1.0, -1.0) == 0.0
    assert math.isclose(token_distance(-1.0, -1.01), 0.01 / 2.01)
    assert token_distance(float("-inf"), -1.0) == 1.0
    assert position_distance([-1.0, -2.0], [-1.0]) == 1.0
    assert gonka_distance([], []) == 0.0
    rows = [[-1.0, -2.0], [-0.5, -0.5]]
    shifted = [[-1.02, -2.0], [-0.5, -0.5]]
    assert math.isclose(gonka_distance(rows, shifted), (0.02 / 2.02 / 2) / 2)


def _artifact(rows: list[tuple[tuple[int, ...], tuple[float, ...]]]) -> TopKArtifact:
    return TopKArtifact.build(5, [r[0] for r in rows], [r[1] for r in rows])


def _legacy_table_between_raw_and_grid() -> tuple[TopKArtifact, int, int]:
    """An ATA1 table whose first boundary lies on one side of the draw in float32 and on
    the other on the grid: the raw and the grid choice differ."""
    u = draw_uniform(5, 0)
    for step in range(-40, 41):
        first = math.log(u - step * 1e-7)
        second = math.log((1.0 - math.exp(first)) * 0.6)
        third = math.log((1.0 - math.exp(first)) * 0.4)
        table = TopKArtifact(3, ((7, 8, 9),), ((first, second, third),)).encode_ata1()
        legacy = TopKArtifact.decode(table)
        lps = legacy.logprobs[0]
        raw = choose_token((7, 8, 9), lps, 1.0, 1.0, 5, 0, snap=False)
        grid = choose_token((7, 8, 9), lps, 1.0, 1.0, 5, 0)
        if raw != grid:
            return legacy, raw, grid
    raise AssertionError("no gap puts the draw between the raw and the grid boundary")


def test_a_legacy_record_replays_from_its_raw_numbers() -> None:
    # An ATA1 executor chose from raw float32 numbers: a draw between a raw boundary and
    # its grid value must replay as it was made, not as the grid would make it.
    legacy, raw_choice, grid_choice = _legacy_table_between_raw_and_grid()
    assert not legacy.on_grid
    sampling = SamplingParams(temperature=1.0, top_p=1.0, seed=5)
    assert replay_reported(legacy, [raw_choice], sampling) == []
    assert replay_reported(legacy, [grid_choice], sampling) == [0]


def test_replay_reported_finds_the_wrong_choice() -> None:
    sampling = SamplingParams(temperature=0.9, top_p=0.9, seed=3)
    artifact = _artifact([(IDS, LPS)] * 4)
    honest = [choose_token(IDS, artifact.logprobs[0], 0.9, 0.9, 3, p) for p in range(4)]
    assert replay_reported(artifact, honest, sampling) == []
    wrong = [*honest[:2], next(t for t in IDS if t != honest[2]), honest[3]]
    assert replay_reported(artifact, wrong, sampling) == [2]


def test_own_replay_excuses_only_noise() -> None:
    greedy = SamplingParams(temperature=0.0, seed=1)
    tie = PositionScores(IDS, (-0.70, -0.7004, -3.0, -4.0, -5.0), ())
    # Near-tie: the other honest engine's argmax may be the second token.
    assert replay_own([tie], [20], greedy, 1e-3).tolerated == (0,)
    clear = PositionScores(IDS, (-0.2, -1.8, -3.0, -4.0, -5.0), ())
    assert replay_own([clear], [20], greedy, 1e-3).mismatches == (0,)
    assert replay_own([clear], [99], greedy, 1e-3).mismatches == (0,)

    sampled = SamplingParams(temperature=1.0, seed=5)
    u = draw_uniform(5, 0)
    # Put a cumulative boundary right at u: the choice flips between the first two tokens.
    first = math.log(u + 1e-5)
    near = PositionScores(IDS[:2], (first, math.log(1 - math.exp(first))), ())
    probs = sampling_probabilities(near.topk_logprobs, 1.0, 1.0)
    chosen = near.topk_ids[0] if u < probs[0] else near.topk_ids[1]
    other = 20 if chosen == 10 else 10
    assert replay_own([near], [other], sampled, 1e-3).tolerated == (0,)
    assert replay_own([near], [other], sampled, 1e-6).mismatches == (0,)


def test_artifact_rows_are_checked() -> None:
    assert artifact_problems(_artifact([(IDS, LPS)]), 5, [10]) == []
    assert artifact_problems(_artifact([(IDS, LPS)]), 6, [10])[0].startswith("artifact k is 5")
    assert (
        "positions for 2 output tokens" in artifact_problems(_artifact([(IDS, LPS)]), 5, [1, 2])[0]
    )
    cases = {
        "top-k ids repeat": ((10, 10, 30, 40, 50), LPS),
        "top-k log-probabilities are not in descending order": (
            IDS,
            (-1.5, -0.5, -2.0, -3.0, -4.0),
        ),
        "top-k probabilities sum above 1": (IDS, (-0.1, -0.2, -2.0, -3.0, -4.0)),
    }
    for problem, row in cases.items():
        assert artifact_problems(_artifact([row]), 5, [10]) == [f"{problem} at position 0"]
    # ATA2 cannot carry a positive or non-finite log-probability; a legacy ATA1 record can.
    for bad in (0.5, float("nan"), float("inf")):
        legacy = TopKArtifact(5, (IDS,), ((bad, -1.5, -2.0, -3.0, -4.0),)).encode_ata1()
        assert artifact_problems(TopKArtifact.decode(legacy), 5, [10]) == [
            "top-k log-probabilities are not finite and <= 0 at position 0"
        ]
    assert artifact_problems(_artifact([(IDS, LPS)]), 5, [99]) == [
        "output token is not in the reported top-k at position 0"
    ]


def test_position_lists_are_summarised() -> None:
    assert summarise_positions("bad", []) == []
    assert summarise_positions("bad", [1, 2, 3, 4, 5]) == ["bad at position 1, 2, 3 and 2 more"]


def test_seed_is_deterministic_per_validator_and_epoch(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    key = devnet_keys.validators[0]
    seed = validator_seed(key, genesis, 3)
    assert seed == validator_seed(key, genesis, 3)
    assert seed != validator_seed(key, genesis, 4)
    assert seed != validator_seed(devnet_keys.validators[1], genesis, 3)
    assert len(seed) == 32 and len(seed_commitment(seed)) == 64


def test_check_probability_follows_reputation(devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    validator = devnet_keys.validators[0].address
    executor = devnet_keys.executors[0].address
    seed = validator_seed(devnet_keys.validators[0], genesis, 0)
    new = decide(
        genesis, validator=validator, executor=executor, reputation=0, seed=seed, inference_id="x"
    )
    assert new.probability == 1.0 and new.check
    trusted = [
        decide(
            genesis,
            validator=validator,
            executor=executor,
            reputation=100,
            seed=seed,
            inference_id=f"inf-{i}",
        )
        for i in range(400)
    ]
    # Two validators of equal weight share the trusted target of 1%.
    assert math.isclose(trusted[0].probability, 0.005)
    assert sum(d.check for d in trusted) < 20


def test_validator_weight_of_the_executor_is_left_out(devnet_keys: DevnetKeys) -> None:
    # An executor that also validates: the other validator carries the checks alone.
    keys = devnet_keys
    genesis = Genesis(
        genesis_time_ms=0,
        participants=[
            *(
                {
                    "address": k.address,
                    "public_key": k.public_key_hex,
                    "roles": roles,
                    "weight": 100,
                }
                for k, roles in (
                    (keys.validators[0], [Role.VALIDATOR]),
                    (keys.validators[1], [Role.VALIDATOR, Role.EXECUTOR]),
                )
            )
        ],
        models=[{"name": "m"}],
    )
    decision = decide(
        genesis,
        validator=keys.validators[0].address,
        executor=keys.validators[1].address,
        reputation=100,
        seed=b"s",
        inference_id="i",
    )
    assert math.isclose(decision.probability, 0.01)


def test_seed_commitments_are_remembered_once() -> None:
    commitments = SeedCommitments()
    assert commitments.needed(5)
    commitments.mark(5)
    assert not commitments.needed(5)
    commitments.mark(500)
    assert commitments.needed(5) and not commitments.needed(500)


def _settled(epoch: int, reputation: int) -> EpochSettled:
    return EpochSettled(
        epoch=epoch,
        cutoff_seq=1,
        previous_settlement_hash=None,
        inference_count=1,
        participants=[
            ParticipantSettlement(
                address="exec", roles=[Role.EXECUTOR], weight=100, reputation=reputation
            )
        ],
        refunds=[],
        reward_pool=0,
    )


def test_reputation_keeps_the_newest_settlement() -> None:
    book = ReputationBook()
    assert book.reputation("exec") == 0 and book.epoch is None
    assert book.apply(_settled(2, 40))
    assert book.reputation("exec") == 40 and book.reputation("other") == 0
    assert not book.apply(_settled(1, 90))
    assert book.reputation("exec") == 40
    assert book.apply(_settled(3, 90)) and book.reputation("exec") == 90
