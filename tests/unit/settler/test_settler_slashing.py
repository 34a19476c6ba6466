"""Slashing: an invalidated inference costs its executor fee / target(reputation)."""

from __future__ import annotations

import pytest
from attesta_common.genesis import Genesis, ModelSpec, Participant
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement
from attesta_settler.slashing import epoch_slash, slash_for

POOL = 10_000


def _member(role: Role) -> Participant:
    key = SigningKey.generate()
    return Participant(address=key.address, public_key=key.public_key_hex, roles=[role], weight=100)


@pytest.mark.parametrize(
    ("reputation", "expected"),
    # target 1 (new), 101/200 (half trusted), 1/100 (trusted); out-of-range clamps.
    [(0, 100), (-5, 100), (50, 198), (100, 10_000), (250, 10_000)],
)
def test_slash_is_the_fee_over_the_target_the_executor_was_sampled_at(
    reputation: int, expected: int
) -> None:
    assert slash_for(100, reputation) == expected


def test_epoch_slash_never_exceeds_the_income() -> None:
    assert epoch_slash([100, 100], 0, 1_000) == 200
    assert epoch_slash([100, 100], 100, 1_000) == 1_000
    assert epoch_slash([100], 100, -5) == 0
    assert epoch_slash([], 100, 1_000) == 0


def _settle(reputation: int, failed: set[int]) -> dict[str, tuple[int, int, int, int]]:
    gateway, validator = _member(Role.GATEWAY), _member(Role.VALIDATOR)
    cheat, honest = _member(Role.EXECUTOR), _member(Role.EXECUTOR)
    genesis = Genesis(
        genesis_time_ms=0,
        epoch_reward_pool=POOL,
        validator_reward_share_percent=20,
        participants=[gateway, cheat, honest, validator],
        models=[ModelSpec(name="m")],
    )
    rows, verdicts = [], []
    for n in range(10):
        for who in (cheat, honest):
            iid = f"{who.address}-{n}"
            rows.append(InferenceRow(iid, who.address, "acct", n * 10, "finished", n * 10 + 1, 50))
            bad = who is cheat and n in failed
            verdicts.append(VerdictRow(iid, validator.address, not bad, n * 10 + 2))
    prior = {cheat.address: reputation, honest.address: reputation}
    settled = compute_settlement(genesis, 1, 10**6, rows, verdicts, None, prior)
    names = {cheat.address: "cheat", honest.address: "honest", validator.address: "validator"}
    return {names[p.address]: (p.fees, p.reward, p.slashed, p.payout) for p in settled.participants}


def test_a_new_executor_loses_the_fee_of_each_invalidated_inference_once_more() -> None:
    paid = _settle(0, {3})
    fees, reward, slashed, payout = paid["cheat"]
    assert (fees, slashed) == (9 * 50, 50)  # refunded and slashed: 2 x fee in all
    assert payout == fees + reward - 50 > 0
    assert paid["honest"][2] == 0


def test_a_trusted_executor_caught_once_forfeits_its_epoch() -> None:
    # Checked at 1%, one invalidation stands for ~100 unchecked cheats: 100 fees.
    paid = _settle(100, {3})
    fees, reward, slashed, payout = paid["cheat"]
    assert slashed == min(100 * 50, fees + reward)
    assert payout == max(fees + reward - 100 * 50, 0)
    honest = paid["honest"]
    assert honest[2] == 0 and honest[3] == honest[0] + honest[1]


def test_validators_are_never_slashed() -> None:
    assert _settle(100, {1, 2})["validator"][2] == 0
