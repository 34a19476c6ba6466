"""Settlement rules: votes, refunds, reward split, SPRT status, reputation, determinism."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from attesta_common.envelope import sign_event
from attesta_common.events import EpochSettled, ParticipantSettlement
from attesta_common.genesis import Genesis, ModelSpec, Participant
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement

POOL = 1_000_003  # not a multiple of the weights, so the floor division shows


@dataclass(frozen=True)
class Net:
    genesis: Genesis
    executors: list[str]
    validators: list[str]
    gateway: str


def _net(executor_weights: list[int], validator_weights: list[int]) -> Net:
    def member(role: Role, weight: int) -> Participant:
        key = SigningKey.generate()
        return Participant(
            address=key.address, public_key=key.public_key_hex, roles=[role], weight=weight
        )

    executors = [member(Role.EXECUTOR, w) for w in executor_weights]
    validators = [member(Role.VALIDATOR, w) for w in validator_weights]
    gateway = member(Role.GATEWAY, 0)
    genesis = Genesis(
        genesis_time_ms=0,
        epoch_reward_pool=POOL,
        validator_reward_share_percent=20,
        participants=[gateway, *executors, *validators],
        models=[ModelSpec(name="m")],
    )
    return Net(
        genesis,
        [p.address for p in executors],
        [p.address for p in validators],
        gateway.address,
    )


def _inference(
    n: int,
    executor: str,
    *,
    cost: int = 100,
    status: str = "finished",
    finished_seq: int | None = None,
    account: str = "acct-1",
) -> InferenceRow:
    return InferenceRow(
        inference_id=f"inf-{n:04d}",
        executor=executor,
        account=account,
        request_seq=n * 10,
        status=status,
        finished_seq=(n * 10 + 1 if finished_seq is None else finished_seq)
        if status != "requested"
        else None,
        cost=cost if status == "finished" else None,
    )


def _verdict(n: int, validator: str, passed: bool, seq: int | None = None) -> VerdictRow:
    return VerdictRow(
        inference_id=f"inf-{n:04d}",
        validator=validator,
        passed=passed,
        seq=n * 10 + 2 if seq is None else seq,
    )


def _by_address(settled: EpochSettled) -> dict[str, ParticipantSettlement]:
    return {p.address: p for p in settled.participants}


def _settle(
    net: Net,
    inferences: list[InferenceRow],
    verdicts: list[VerdictRow],
    *,
    cutoff: int = 10**9,
    prior: dict[str, int] | None = None,
) -> EpochSettled:
    return compute_settlement(net.genesis, 3, cutoff, inferences, verdicts, "prev", prior or {})


def test_inference_without_verdict_is_valid_and_pays_fees() -> None:
    net = _net([100], [100])
    [executor] = net.executors
    settled = _settle(net, [_inference(1, executor, cost=70), _inference(2, executor, cost=30)], [])
    me = _by_address(settled)[executor]
    assert (me.inferences, me.valid, me.invalidated, me.fees) == (2, 2, 0, 100)
    assert me.status == "active"
    assert settled.refunds == []
    assert settled.inference_count == 2
    assert (settled.epoch, settled.cutoff_seq, settled.previous_settlement_hash) == (
        3,
        10**9,
        "prev",
    )


def test_weighted_vote_decides_and_ties_keep_the_inference_valid() -> None:
    net = _net([100], [300, 100, 100])
    [executor] = net.executors
    heavy, light_a, light_b = net.validators
    inferences = [_inference(n, executor) for n in (1, 2, 3)]
    verdicts = [
        _verdict(1, heavy, False),  # 300 fail vs 200 pass: invalidated
        _verdict(1, light_a, True),
        _verdict(1, light_b, True),
        _verdict(2, light_a, False),  # 100 fail vs 100 pass: a tie is not a majority
        _verdict(2, light_b, True),
        _verdict(3, light_a, False),  # 100 fail vs nothing
    ]
    settled = _settle(net, inferences, verdicts)
    me = _by_address(settled)[executor]
    assert (me.valid, me.invalidated) == (1, 2)
    assert [r.inference_id for r in settled.refunds] == ["inf-0001", "inf-0003"]
    checks = {a: _by_address(settled)[a].checks for a in net.validators}
    assert checks == {heavy: 1, light_a: 3, light_b: 2}


def test_refunds_name_account_and_cost_sorted_by_inference() -> None:
    net = _net([100, 100], [100])
    first, second = net.executors
    [validator] = net.validators
    inferences = [
        _inference(7, first, cost=40, account="acct-b"),
        _inference(2, second, cost=55, account="acct-a"),
        _inference(5, first, cost=10),
    ]
    verdicts = [_verdict(7, validator, False), _verdict(2, validator, False)]
    settled = _settle(net, inferences, verdicts)
    assert [(r.inference_id, r.account, r.amount) for r in settled.refunds] == [
        ("inf-0002", "acct-a", 55),
        ("inf-0007", "acct-b", 40),
    ]
    assert _by_address(settled)[first].fees == 10


def test_reward_pool_split_by_weight_among_eligible_participants() -> None:
    net = _net([100, 300, 50], [100, 200, 700])
    busy, heavy, idle = net.executors
    checker_a, checker_b, silent = net.validators
    inferences = [_inference(1, busy), _inference(2, heavy), _inference(3, heavy)]
    verdicts = [_verdict(1, checker_a, True), _verdict(2, checker_b, True)]
    settled = _settle(net, inferences, verdicts)
    rewards = {p.address: p.reward for p in settled.participants}

    validator_share = POOL * 20 // 100
    executor_share = POOL - validator_share
    assert rewards[checker_a] == validator_share * 100 // 300
    assert rewards[checker_b] == validator_share * 200 // 300
    assert rewards[silent] == 0
    assert rewards[busy] == executor_share * 100 // 400
    assert rewards[heavy] == executor_share * 300 // 400
    assert rewards[idle] == 0
    paid = sum(rewards.values())
    assert POOL - 4 < paid <= POOL
    assert settled.reward_pool == POOL


def test_no_checks_and_no_valid_work_pay_no_reward() -> None:
    net = _net([100], [100])
    settled = _settle(net, [], [])
    assert all(p.reward == 0 and p.fees == 0 for p in settled.participants)


def test_sprt_rejection_marks_executor_invalid_and_forfeits_reward() -> None:
    net = _net([100, 100], [100])
    cheat, honest = net.executors
    [validator] = net.validators
    inferences = [_inference(n, cheat) for n in range(1, 6)] + [_inference(9, honest)]
    # Outcomes in request order: valid, invalid, invalid -> ratio 4 * 18/19 < 4, then
    # a third invalidation crosses the bound.
    verdicts = [_verdict(n, validator, False) for n in (2, 3, 5)]
    settled = _settle(net, inferences, verdicts, prior={cheat: 70, honest: 95})
    cheat_row, honest_row = _by_address(settled)[cheat], _by_address(settled)[honest]
    assert (cheat_row.status, cheat_row.reputation, cheat_row.reward) == ("invalid", 0, 0)
    assert cheat_row.fees == 200  # its two valid results are still paid for
    assert (honest_row.status, honest_row.reputation) == ("active", 100)
    assert honest_row.reward == (POOL - POOL * 20 // 100)


def test_five_invalidations_in_a_row_mark_invalid_despite_a_long_clean_history() -> None:
    net = _net([100], [100])
    [executor] = net.executors
    [validator] = net.validators
    inferences = [_inference(n, executor) for n in range(1, 206)]
    verdicts = [_verdict(n, validator, False) for n in range(201, 206)]
    assert _by_address(_settle(net, inferences, verdicts))[executor].status == "invalid"
    four = [v for v in verdicts if v.inference_id != "inf-0205"]
    assert _by_address(_settle(net, inferences, four))[executor].status == "active"


def test_reputation_grows_capped_and_idle_keeps_prior() -> None:
    net = _net([100, 100, 100], [100])
    climbing, capped, idle = net.executors
    [validator] = net.validators
    inferences = [
        _inference(1, climbing),
        _inference(2, capped),
        _inference(3, idle, status="failed"),
    ]
    settled = _settle(net, inferences, [], prior={climbing: 30, capped: 95, idle: 40, validator: 7})
    reputations = {p.address: p.reputation for p in settled.participants}
    assert reputations == {climbing: 40, capped: 100, idle: 40, validator: 7}


def test_only_rows_up_to_the_cutoff_count() -> None:
    net = _net([100], [100])
    [executor] = net.executors
    [validator] = net.validators
    inferences = [
        _inference(1, executor),  # requested 10, finished 11
        _inference(2, executor, finished_seq=90),  # finished after the cutoff
        _inference(8, executor),  # requested after the cutoff
        _inference(3, executor, status="failed"),
    ]
    verdicts = [_verdict(1, validator, False, seq=60)]  # verdict after the cutoff
    settled = _settle(net, inferences, verdicts, cutoff=50)
    me = _by_address(settled)[executor]
    assert settled.inference_count == 3
    assert (me.inferences, me.valid, me.invalidated, me.fees) == (1, 1, 0, 100)
    assert _by_address(settled)[validator].checks == 0
    assert settled.refunds == []


def test_outsider_and_repeated_verdicts_carry_no_weight() -> None:
    net = _net([100], [100, 100])
    [executor] = net.executors
    first, second = net.validators
    verdicts = [
        _verdict(1, net.gateway, False),  # not a validator
        _verdict(1, first, True, seq=20),
        _verdict(1, first, False, seq=25),  # a second word from the same validator
        _verdict(1, second, False, seq=22),
    ]
    settled = _settle(net, [_inference(1, executor)], verdicts)
    assert _by_address(settled)[executor].valid == 1
    assert _by_address(settled)[first].checks == 1


def test_participants_are_every_executor_and_validator_sorted() -> None:
    net = _net([100, 100, 100], [100, 100])
    settled = _settle(net, [], [])
    addresses = [p.address for p in settled.participants]
    assert addresses == sorted(net.executors + net.validators)
    roles = {p.address: p.roles for p in settled.participants}
    assert all(roles[a] == [Role.EXECUTOR] for a in net.executors)


@pytest.mark.parametrize("seed", range(3))
def test_same_rows_in_any_order_give_the_same_signed_record(seed: int) -> None:
    net = _net([100, 200, 50], [100, 300])
    rng = random.Random(seed)
    inferences = [
        _inference(n, rng.choice(net.executors), cost=rng.randint(1, 500), account=f"a{n % 3}")
        for n in range(1, 60)
    ]
    verdicts = [
        _verdict(n, validator, rng.random() > 0.3)
        for n in range(1, 60)
        for validator in net.validators
        if rng.random() < 0.5
    ]
    key = SigningKey.generate()
    reference = sign_event(_settle(net, inferences, verdicts, prior={net.executors[0]: 50}), key)
    for _ in range(5):
        rng.shuffle(inferences)
        rng.shuffle(verdicts)
        again = sign_event(_settle(net, inferences, verdicts, prior={net.executors[0]: 50}), key)
        assert again.to_bytes() == reference.to_bytes()
