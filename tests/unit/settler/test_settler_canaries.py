"""Canaries in settlement: left out of executor accounting and refunds, approvers flagged,
late verdicts ignored, and nothing at all without an opened commitment."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from attesta_common.canary import epoch_canary_secret, executor_tag, is_canary, spoil_tag
from attesta_common.events import EpochSettled, ParticipantSettlement
from attesta_common.genesis import Genesis, ModelSpec, Participant
from attesta_common.keys import SigningKey
from attesta_common.roles import Role
from attesta_settler.canaries import APPROVED_CANARY, CanaryReveal, opened
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement

SECRET = epoch_canary_secret(b"c" * 32, 3)
REVEAL_SEQ = 10_000


def _member(role: Role) -> Participant:
    key = SigningKey.generate()
    return Participant(address=key.address, public_key=key.public_key_hex, roles=[role], weight=100)


@dataclass(frozen=True)
class Net:
    genesis: Genesis
    gateway: str
    executor: str
    honest: str
    lazy: str


def _net() -> Net:
    members = [_member(r) for r in (Role.GATEWAY, Role.EXECUTOR, Role.VALIDATOR, Role.VALIDATOR)]
    genesis = Genesis(
        genesis_time_ms=0,
        epoch_reward_pool=10_000,
        validator_reward_share_percent=20,
        participants=members,
        models=[ModelSpec(name="m")],
    )
    return Net(genesis, *(m.address for m in members))


def _ids(marked: bool, count: int) -> list[str]:
    found, n = [], 0
    while len(found) < count:
        candidate = f"chatcmpl-{n}"
        if is_canary(SECRET, candidate) == marked:
            found.append(candidate)
        n += 1
    return found


def _row(net: Net, n: int, inference_id: str, tag: str) -> InferenceRow:
    return InferenceRow(
        inference_id, net.executor, "acct", n * 10, "finished", n * 10 + 1, 100, net.gateway, tag
    )


def _settle(
    net: Net,
    verdicts: list[VerdictRow],
    reveals: dict[str, CanaryReveal] | None,
    *,
    canary_tags: list[str] | None = None,
) -> tuple[EpochSettled, dict[str, ParticipantSettlement]]:
    """Four real inferences (executor tags) and two canaries, by default tagged as spoiled
    by a canary executor."""
    real, canary = _ids(False, 4), _ids(True, 2)
    tags = [executor_tag(b"k" * 32, i) for i in real]
    tags += canary_tags if canary_tags is not None else [spoil_tag(SECRET, i) for i in canary]
    rows = [
        _row(net, n, i, tag) for n, (i, tag) in enumerate(zip(real + canary, tags, strict=True))
    ]
    settled = compute_settlement(net.genesis, 3, 10**6, rows, verdicts, None, {}, canaries=reveals)
    return settled, {p.address: p for p in settled.participants}


def _reveal(net: Net) -> dict[str, CanaryReveal]:
    return {net.gateway: CanaryReveal(net.gateway, SECRET, REVEAL_SEQ, "reveal-hash")}


def test_canaries_are_not_work_and_their_approvers_are_flagged() -> None:
    net = _net()
    real, canary = _ids(False, 4), _ids(True, 2)
    verdicts = [VerdictRow(i, net.honest, True, 50 + n) for n, i in enumerate(real)]
    verdicts += [
        VerdictRow(canary[0], net.honest, False, 90),
        VerdictRow(canary[0], net.lazy, True, 91),
    ]
    verdicts += [VerdictRow(canary[1], net.lazy, True, 92)]
    settled, by = _settle(net, verdicts, _reveal(net))
    assert (settled.inference_count, settled.canaries) == (4, 2)
    assert settled.canary_reveals == ["reveal-hash"]
    executor = by[net.executor]
    assert (executor.inferences, executor.valid, executor.canaries, executor.fees) == (4, 4, 2, 400)
    assert executor.slashed == 0 and settled.refunds == []
    assert by[net.lazy].flags == [APPROVED_CANARY] and by[net.lazy].reward == 0
    # Its failed verdict on canary 0 lost the weighted vote (a tie): not an overruled
    # accusation, since a canary is bad by construction.
    assert by[net.honest].flags == [] and by[net.honest].reward > 0


def test_verdicts_given_after_the_reveal_do_not_count() -> None:
    net = _net()
    canary = _ids(True, 2)
    late = [VerdictRow(canary[0], net.lazy, True, REVEAL_SEQ + 1)]
    _, by = _settle(net, late, _reveal(net))
    assert by[net.lazy].flags == [] and by[net.lazy].checks == 0


def test_without_a_reveal_canaries_are_ordinary_inferences() -> None:
    net = _net()
    canary = _ids(True, 2)
    settled, by = _settle(net, [VerdictRow(canary[0], net.lazy, True, 90)], None)
    assert (settled.inference_count, settled.canaries, settled.canary_reveals) == (6, 0, [])
    assert by[net.lazy].flags == [] and by[net.executor].inferences == 6


def test_only_a_reveal_that_opens_the_commitment_counts() -> None:
    net = _net()
    good = CanaryReveal(net.gateway, SECRET, REVEAL_SEQ, "h1")
    commitment = {net.gateway: hashlib.sha256(SECRET).hexdigest()}
    assert opened([good], commitment) == {net.gateway: good}
    assert opened([good], {}) == {}
    forged = CanaryReveal(net.gateway, b"x" * 32, REVEAL_SEQ, "h2")
    assert opened([forged], commitment) == {}


def test_a_marked_inference_an_honest_executor_ran_is_work_not_a_canary() -> None:
    """A gateway that marks real work cannot frame the validators who passed it: without
    the spoil tag, which only a canary executor can compute, it is an ordinary inference."""
    net = _net()
    canary = _ids(True, 2)
    framed = [executor_tag(b"honest" * 6, canary[0]), spoil_tag(SECRET, canary[1])]
    verdicts = [
        VerdictRow(canary[0], net.lazy, True, 90),
        VerdictRow(canary[1], net.honest, False, 91),
    ]
    settled, by = _settle(net, verdicts, _reveal(net), canary_tags=framed)
    assert (settled.inference_count, settled.canaries) == (5, 1)
    assert by[net.lazy].flags == [] and by[net.executor].inferences == 5
    # An untagged finished record (older than tags) is work too.
    settled, by = _settle(net, verdicts, _reveal(net), canary_tags=[None, None])  # type: ignore[list-item]
    assert settled.canaries == 0 and by[net.lazy].flags == []


def test_a_canary_that_never_finished_stays_the_networks() -> None:
    net = _net()
    real, canary = _ids(False, 1), _ids(True, 1)
    rows = [
        _row(net, 0, real[0], executor_tag(b"k" * 32, real[0])),
        InferenceRow(canary[0], net.executor, "acct", 10, "failed", 11, None, net.gateway),
    ]
    settled = compute_settlement(net.genesis, 3, 10**6, rows, [], None, {}, canaries=_reveal(net))
    # Still a canary (the network's loss, not the executor's failure), and never work.
    assert (settled.inference_count, settled.canaries) == (1, 1)
    assert {p.address: p for p in settled.participants}[net.executor].inferences == 1
