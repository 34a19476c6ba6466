"""The settlement of one epoch, as a pure function of the rows the settler projected.

Anyone holding the same rows (those with `seq <= cutoff_seq`), the genesis document and
the previous settlement gets the byte-identical `EpochSettled`: integer arithmetic only,
every collection ordered by a total key, no clock and no randomness.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from attesta_common.events import EpochSettled, ParticipantSettlement, Refund
from attesta_common.genesis import Genesis, Participant
from attesta_common.roles import Role

from attesta_settler.canaries import APPROVED_CANARY, CanaryReveal, MarkedCandidate, canary_ids
from attesta_settler.diligence import DiligenceInputs, DiligencePolicy, assess_validator
from attesta_settler.slashing import epoch_slash
from attesta_settler.sprt import Sprt, longest_invalid_run

MAX_INVALID_RUN = 5
REPUTATION_STEP = 10
MAX_REPUTATION = 100


@dataclass(frozen=True)
class InferenceRow:
    inference_id: str
    executor: str
    account: str
    request_seq: int
    status: str
    finished_seq: int | None
    cost: int | None
    gateway: str = ""
    tag: str | None = None  # of the finished record (attesta_common.canary)


@dataclass(frozen=True)
class VerdictRow:
    inference_id: str
    validator: str
    passed: bool
    seq: int


@dataclass(frozen=True)
class _Outcome:
    inference: InferenceRow
    invalidated: bool


def _finished_by(row: InferenceRow, cutoff_seq: int) -> bool:
    return (
        row.status == "finished" and row.finished_seq is not None and row.finished_seq <= cutoff_seq
    )


def _first_verdicts(verdicts: Iterable[VerdictRow], cutoff_seq: int) -> list[VerdictRow]:
    """One verdict per (inference, validator), the earliest; later copies carry no weight."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for verdict in sorted(verdicts, key=lambda v: (v.seq, v.inference_id, v.validator)):
        key = (verdict.inference_id, verdict.validator)
        if verdict.seq <= cutoff_seq and key not in seen:
            seen.add(key)
            kept.append(verdict)
    return kept


def _judge(
    genesis: Genesis, finished: list[InferenceRow], verdicts: list[VerdictRow]
) -> list[_Outcome]:
    """Weighted vote per inference: invalidated iff the failing weight outweighs the passing."""
    fail_weight: dict[str, int] = defaultdict(int)
    pass_weight: dict[str, int] = defaultdict(int)
    for verdict in verdicts:
        weight = genesis.weight(verdict.validator)
        if verdict.passed:
            pass_weight[verdict.inference_id] += weight
        else:
            fail_weight[verdict.inference_id] += weight
    return [
        _Outcome(row, fail_weight[row.inference_id] > pass_weight[row.inference_id])
        for row in finished
    ]


def _split(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Pro-rata by weight, floored; the undivided remainder is simply not paid."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return {}
    return {address: amount * weight // total for address, weight in weights.items()}


def _executor_settlement(
    participant: Participant, outcomes: list[_Outcome], prior: int, sprt: Sprt
) -> ParticipantSettlement:
    ordered = [
        o.invalidated
        for o in sorted(outcomes, key=lambda o: (o.inference.request_seq, o.inference.inference_id))
    ]
    valid = ordered.count(False)
    invalid = sprt.rejects(ordered) or longest_invalid_run(ordered) >= MAX_INVALID_RUN
    if invalid:
        reputation = 0
    elif valid:
        reputation = min(prior + REPUTATION_STEP, MAX_REPUTATION)
    else:
        reputation = prior
    return ParticipantSettlement(
        address=participant.address,
        roles=participant.roles,
        weight=participant.weight,
        inferences=len(ordered),
        valid=valid,
        invalidated=len(ordered) - valid,
        status="invalid" if invalid else "active",
        reputation=reputation,
        fees=sum(o.inference.cost or 0 for o in outcomes if not o.invalidated),
    )


def compute_settlement(
    genesis: Genesis,
    epoch: int,
    cutoff_seq: int,
    inferences: Iterable[InferenceRow],
    verdicts: Iterable[VerdictRow],
    previous_settlement_hash: str | None,
    prior_reputation: Mapping[str, int],
    sprt: Sprt | None = None,
    diligence: DiligenceInputs | None = None,
    policy: DiligencePolicy | None = None,
    canaries: Mapping[str, CanaryReveal] | None = None,
) -> EpochSettled:
    """Settle one epoch. Without `diligence` (seeds and reveals) the owed checks are not
    audited; the settler always passes it, unit tests of the other rules may not.
    `canaries`: the canary reveals that open their gateway's commitment, by gateway."""
    sprt = sprt or Sprt()
    policy = policy or DiligencePolicy()
    requested = sorted(
        (row for row in inferences if row.request_seq <= cutoff_seq),
        key=lambda row: row.inference_id,
    )
    finished = [row for row in requested if _finished_by(row, cutoff_seq)]
    finished_ids = {row.inference_id for row in finished}
    canary = canary_ids(
        (
            MarkedCandidate(r.inference_id, r.gateway, r.inference_id in finished_ids, r.tag)
            for r in requested
        ),
        canaries or {},
    )
    counted = [
        v
        for v in _first_verdicts(verdicts, cutoff_seq)
        if v.inference_id in finished_ids
        and genesis.has_role(v.validator, Role.VALIDATOR)
        # Given knowing it was a canary: not a verdict at all.
        and v.seq < canary.get(v.inference_id, cutoff_seq + 1)
    ]
    outcomes = _judge(genesis, finished, counted)

    by_executor: dict[str, list[_Outcome]] = defaultdict(list)
    canaries_run: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        if outcome.inference.inference_id in canary:
            canaries_run[outcome.inference.executor] += 1
        else:
            by_executor[outcome.inference.executor].append(outcome)
    checks: dict[str, int] = defaultdict(int)
    judged: dict[str, set[str]] = defaultdict(set)
    # Failed verdicts the weighted vote overruled: accusations that did not hold.
    overruled: dict[str, int] = defaultdict(int)
    approved_canary: set[str] = set()
    # A canary is bad by construction: failing it is never an overruled accusation.
    invalidated_ids = {o.inference.inference_id for o in outcomes if o.invalidated} | set(canary)
    for verdict in counted:
        checks[verdict.validator] += 1
        judged[verdict.validator].add(verdict.inference_id)
        if not verdict.passed and verdict.inference_id not in invalidated_ids:
            overruled[verdict.validator] += 1
        if verdict.passed and verdict.inference_id in canary:
            approved_canary.add(verdict.validator)
    audited = [(row.inference_id, row.executor) for row in finished] if diligence else []

    settled: dict[str, ParticipantSettlement] = {}
    for participant in genesis.holders(Role.EXECUTOR):
        settled[participant.address] = _executor_settlement(
            participant,
            by_executor.get(participant.address, []),
            prior_reputation.get(participant.address, 0),
            sprt,
        ).model_copy(update={"canaries": canaries_run.get(participant.address, 0)})
    for participant in genesis.holders(Role.VALIDATOR):
        base = settled.get(participant.address) or ParticipantSettlement(
            address=participant.address,
            roles=participant.roles,
            weight=participant.weight,
            reputation=prior_reputation.get(participant.address, 0),
        )
        assessment = assess_validator(
            genesis,
            participant.address,
            audited,
            judged.get(participant.address, set()),
            overruled.get(participant.address, 0),
            diligence or DiligenceInputs(),
            policy,
        )
        settled[participant.address] = base.model_copy(
            update={
                "checks": checks.get(participant.address, 0),
                "checks_owed": assessment.owed,
                "flags": sorted(
                    [*assessment.flags, APPROVED_CANARY]
                    if participant.address in approved_canary
                    else assessment.flags
                ),
            }
        )

    pool = genesis.epoch_reward_pool
    validator_share = pool * genesis.validator_reward_share_percent // 100
    rewards: dict[str, int] = defaultdict(int)
    # A flagged validator (skipped checks, unauditable seed, overruled accuser) gets no
    # share of the validator pool.
    validator_weights = {
        p.address: p.weight
        for p in genesis.holders(Role.VALIDATOR)
        if checks.get(p.address, 0) and not settled[p.address].flags
    }
    executor_weights = {
        address: genesis.weight(address)
        for address, s in settled.items()
        if Role.EXECUTOR in s.roles and s.status == "active" and s.valid > 0
    }
    for address, reward in _split(validator_share, validator_weights).items():
        rewards[address] += reward
    for address, reward in _split(pool - validator_share, executor_weights).items():
        rewards[address] += reward

    participants = []
    for address in sorted(settled):
        reward = rewards.get(address, 0)
        slashed = epoch_slash(
            (o.inference.cost or 0 for o in by_executor.get(address, []) if o.invalidated),
            prior_reputation.get(address, 0),
            settled[address].fees + reward,
        )
        participants.append(
            settled[address].model_copy(update={"reward": reward, "slashed": slashed})
        )
    refunds = [
        Refund(
            account=o.inference.account,
            inference_id=o.inference.inference_id,
            amount=o.inference.cost or 0,
        )
        for o in outcomes
        if o.invalidated and o.inference.inference_id not in canary
    ]
    return EpochSettled(
        epoch=epoch,
        cutoff_seq=cutoff_seq,
        previous_settlement_hash=previous_settlement_hash,
        inference_count=len(requested) - len(canary),
        participants=participants,
        refunds=sorted(refunds, key=lambda r: r.inference_id),
        reward_pool=pool,
        canary_reveals=sorted(r.record_hash for r in (canaries or {}).values()),
        canaries=len(canary),
    )
