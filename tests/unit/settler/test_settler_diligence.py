"""Diligence audit: owed checks from revealed seeds, the exact binomial test, flags."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from math import comb

import pytest
from attesta_common.events import EpochSettled, ParticipantSettlement
from attesta_common.genesis import Genesis, ModelSpec, Participant
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_common.sampling_policy import check_owed
from attesta_settler.diligence import (
    DiligenceInputs,
    DiligencePolicy,
    implausibly_few,
    owed_reputation,
)
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement

POLICY = DiligencePolicy()


def _cdf(done: int, owed: int) -> Fraction:
    hit = Fraction(99, 100)
    return sum(
        (comb(owed, k) * hit**k * (1 - hit) ** (owed - k) for k in range(done + 1)), Fraction(0)
    )


@pytest.mark.parametrize(
    ("done", "owed", "flagged"),
    [
        (97, 100, False),  # P = 0.0794
        (95, 100, False),  # P = 0.00343
        (94, 100, True),  # P = 0.000535
        (8, 10, False),  # P = 0.00427
        (7, 10, True),  # P = 0.000114
        (0, 1, False),  # P = 0.01: one missed check proves nothing
        (0, 2, True),  # P = 0.0001
        (488, 500, False),  # P = 0.00521
        (487, 500, False),  # P = 0.00190
        (10, 10, False),
        (0, 0, False),
    ],
)
def test_binomial_test_is_exact(done: int, owed: int, flagged: bool) -> None:
    assert implausibly_few(done, owed, POLICY) is flagged
    if owed:
        assert (_cdf(done, owed) < Fraction(1, 1000)) is flagged


def test_binomial_both_sides_agree_near_the_middle() -> None:
    # The sum switches sides at done = owed / 2; both give the exact answer.
    for done in (24, 25, 26):
        assert implausibly_few(done, 50, POLICY) is (_cdf(done, 50) < Fraction(1, 1000))


def test_owed_reputation_takes_the_higher_of_two_settlements() -> None:
    assert owed_reputation({"a": 10, "b": 50}, {"a": 30, "c": 5}) == {"a": 30, "b": 50, "c": 5}


def _member(role: Role, weight: int) -> Participant:
    key = SigningKey.generate()
    return Participant(
        address=key.address, public_key=key.public_key_hex, roles=[role], weight=weight
    )


EXECUTOR = _member(Role.EXECUTOR, 100)
DILIGENT, LAZY, THIRD = (_member(Role.VALIDATOR, w) for w in (100, 100, 300))
GENESIS = Genesis(
    genesis_time_ms=0,
    epoch_reward_pool=1_000_000,
    validator_reward_share_percent=20,
    participants=[EXECUTOR, DILIGENT, LAZY, THIRD],
    models=[ModelSpec(name="m")],
)
SEEDS = {
    v.address: hashlib.sha256(f"seed-{n}".encode()).digest()
    for n, v in enumerate((DILIGENT, LAZY, THIRD))
}


def _inferences(n: int) -> list[InferenceRow]:
    return [
        InferenceRow(f"inf-{i:03d}", EXECUTOR.address, "acct", i * 10, "finished", i * 10 + 1, 10)
        for i in range(n)
    ]


def _verdicts(validator: Participant, ids: list[str], passed: bool = True) -> list[VerdictRow]:
    return [VerdictRow(i, validator.address, passed, 5000 + n) for n, i in enumerate(ids)]


def _inputs(reveals: dict[str, bytes] | None = None, reputation: int = 0) -> DiligenceInputs:
    reveals = SEEDS if reveals is None else reveals
    return DiligenceInputs(
        commitments={a: hashlib.sha256(s).hexdigest() for a, s in SEEDS.items()},
        reveals={a: s.hex() for a, s in reveals.items()},
        reputation={EXECUTOR.address: reputation},
    )


def _settle(
    verdicts: list[VerdictRow], inputs: DiligenceInputs, n: int = 20
) -> dict[str, ParticipantSettlement]:
    settled: EpochSettled = compute_settlement(
        GENESIS, 1, 10**9, _inferences(n), verdicts, None, {}, diligence=inputs
    )
    return {p.address: p for p in settled.participants}


def test_lazy_validator_is_flagged_and_unpaid_diligent_one_paid() -> None:
    ids = [row.inference_id for row in _inferences(20)]
    verdicts = (
        _verdicts(DILIGENT, ids) + _verdicts(LAZY, ids[:10]) + _verdicts(THIRD, ids)
    )  # reputation 0: every check is owed
    by = _settle(verdicts, _inputs())
    assert (by[DILIGENT.address].checks_owed, by[DILIGENT.address].flags) == (20, [])
    assert (by[LAZY.address].checks, by[LAZY.address].checks_owed) == (10, 20)
    assert by[LAZY.address].flags == ["skipped_checks"]
    assert by[LAZY.address].reward == 0
    # The validator pool (200_000) goes to the two unflagged validators by weight.
    assert by[DILIGENT.address].reward == 200_000 * 100 // 400
    assert by[THIRD.address].reward == 200_000 * 300 // 400


def test_owed_checks_follow_the_validators_own_rule() -> None:
    ids = [row.inference_id for row in _inferences(200)]
    owed = [
        i
        for i in ids
        if check_owed(
            GENESIS,
            validator=DILIGENT.address,
            executor=EXECUTOR.address,
            reputation=60,
            seed=SEEDS[DILIGENT.address],
            inference_id=i,
        )[1]
    ]
    assert 0 < len(owed) < len(ids)
    # Doing exactly the owed checks (and nothing else) is diligent.
    by = _settle(_verdicts(DILIGENT, owed), _inputs(reputation=60), n=200)
    assert (by[DILIGENT.address].checks_owed, by[DILIGENT.address].flags) == (len(owed), [])
    # Missing half of them is not.
    by = _settle(_verdicts(DILIGENT, owed[::2]), _inputs(reputation=60), n=200)
    assert by[DILIGENT.address].flags == ["skipped_checks"]


def test_unauditable_seeds_are_flagged() -> None:
    ids = [row.inference_id for row in _inferences(5)]
    reveals = {DILIGENT.address: b"\x01" * 32, THIRD.address: SEEDS[THIRD.address]}
    verdicts = _verdicts(DILIGENT, ids) + _verdicts(LAZY, ids) + _verdicts(THIRD, ids)
    by = _settle(verdicts, _inputs(reveals), n=5)
    assert by[DILIGENT.address].flags == ["seed_mismatch"]
    assert by[LAZY.address].flags == ["seed_unrevealed"]
    assert by[THIRD.address].flags == []
    assert by[DILIGENT.address].reward == by[LAZY.address].reward == 0
    assert by[THIRD.address].reward == 200_000


def test_overruled_accuser_is_flagged_after_three() -> None:
    ids = [row.inference_id for row in _inferences(6)]
    # LAZY fails inf-000..002, the heavier THIRD passes them: three overruled accusations.
    # On inf-003 DILIGENT's re-check agrees with LAZY's accusation: invalidated, refunded.
    verdicts = (
        _verdicts(LAZY, ids[:4], passed=False)
        + _verdicts(THIRD, ids[:3])
        + _verdicts(DILIGENT, ids[3:4], passed=False)
    )
    settled = compute_settlement(
        GENESIS, 1, 10**9, _inferences(6), verdicts, None, {}, diligence=None
    )
    by = {p.address: p for p in settled.participants}
    assert by[LAZY.address].flags == ["overruled_accuser"] and by[LAZY.address].reward == 0
    assert by[DILIGENT.address].flags == [] and by[THIRD.address].flags == []
    assert [r.inference_id for r in settled.refunds] == ["inf-003"]
    assert by[EXECUTOR.address].invalidated == 1

    # Two overruled accusations stay below the limit.
    two = _verdicts(LAZY, ids[:2], passed=False) + _verdicts(THIRD, ids[:2])
    settled = compute_settlement(GENESIS, 1, 10**9, _inferences(6), two, None, {})
    assert {p.address: p.flags for p in settled.participants}[LAZY.address] == []


def test_diligence_is_deterministic() -> None:
    ids = [row.inference_id for row in _inferences(20)]
    verdicts = _verdicts(DILIGENT, ids) + _verdicts(LAZY, ids[:10])
    first = compute_settlement(
        GENESIS, 1, 10**9, _inferences(20), verdicts, None, {}, diligence=_inputs()
    )
    again = compute_settlement(
        GENESIS,
        1,
        10**9,
        list(reversed(_inferences(20))),
        list(reversed(verdicts)),
        None,
        {},
        diligence=_inputs(),
    )
    assert first == again
