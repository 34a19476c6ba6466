"""Loads what a settlement is computed from: the epoch's rows up to a cutoff, and the
reputations fixed by the previous settlement.

Prior reputations come from the previous settlement record, not from `participant_state`
(which later settlements overwrite), so recomputing an old epoch sees what it saw then.
"""

from __future__ import annotations

import json
from typing import TypeAlias

import asyncpg
from attesta_common.events import EpochSettled
from attesta_common.genesis import Genesis

from attesta_settler.canaries import CanaryReveal, opened
from attesta_settler.diligence import DiligenceInputs, owed_reputation
from attesta_settler.settlement import InferenceRow, VerdictRow, compute_settlement

Executor: TypeAlias = asyncpg.Connection | asyncpg.Pool


async def load_rows(
    conn: Executor, epoch: int, cutoff_seq: int
) -> tuple[list[InferenceRow], list[VerdictRow]]:
    inferences = await conn.fetch(
        """
        SELECT inference_id, executor, account, request_seq, status, finished_seq, cost, gateway,
            finished_tag AS tag
        FROM inferences WHERE epoch = $1 AND request_seq <= $2
        """,
        epoch,
        cutoff_seq,
    )
    verdicts = await conn.fetch(
        "SELECT inference_id, validator, passed, seq FROM verdicts WHERE epoch = $1 AND seq <= $2",
        epoch,
        cutoff_seq,
    )
    return [InferenceRow(**dict(row)) for row in inferences], [
        VerdictRow(**dict(row)) for row in verdicts
    ]


async def previous_settlement_hash(conn: Executor, epoch: int) -> str | None:
    value = await conn.fetchval(
        "SELECT settlement_hash FROM epoch_settlements WHERE epoch < $1 "
        "ORDER BY epoch DESC LIMIT 1",
        epoch,
    )
    return str(value) if value is not None else None


async def prior_reputation(conn: Executor, settlement_hash: str | None) -> dict[str, int]:
    if settlement_hash is None:
        return {}
    raw = await conn.fetchval(
        "SELECT record FROM epoch_settlements WHERE settlement_hash = $1", settlement_hash
    )
    if raw is None:
        raise LookupError(f"previous settlement {settlement_hash} is not projected")
    body = json.loads(raw)["body"]
    return {p["address"]: int(p["reputation"]) for p in body["participants"]}


async def load_diligence(
    conn: Executor, epoch: int, cutoff_seq: int, previous_hash: str | None
) -> DiligenceInputs:
    """Commitments and reveals up to the cutoff, and the reputations checks were owed under:
    those of the previous settlement and of the one before it (`owed_reputation`)."""
    commits = await conn.fetch(
        "SELECT validator, seed_hash FROM seed_commits WHERE epoch = $1 AND seq <= $2",
        epoch,
        cutoff_seq,
    )
    reveals = await conn.fetch(
        "SELECT validator, seed FROM seed_reveals WHERE epoch = $1 AND seq <= $2",
        epoch,
        cutoff_seq,
    )
    settlements = [await prior_reputation(conn, previous_hash)]
    if previous_hash is not None:
        raw = await conn.fetchval(
            "SELECT record FROM epoch_settlements WHERE settlement_hash = $1", previous_hash
        )
        before = json.loads(raw)["body"]["previous_settlement_hash"]
        settlements.append(await prior_reputation(conn, before))
    return DiligenceInputs(
        commitments={r["validator"]: r["seed_hash"] for r in commits},
        reveals={r["validator"]: r["seed"] for r in reveals},
        reputation=owed_reputation(*settlements),
    )


async def load_canaries(
    conn: Executor, epoch: int, cutoff_seq: int, reveal_hashes: list[str] | None
) -> dict[str, CanaryReveal]:
    """The reveals that open a commitment made by the cutoff. Reveals come after the
    cutoff, so a new settlement takes those projected now and names them; a recomputation
    takes exactly the ones named (`reveal_hashes`)."""
    commits = await conn.fetch(
        "SELECT gateway, secret_hash FROM canary_commits WHERE epoch = $1 AND seq <= $2",
        epoch,
        cutoff_seq,
    )
    rows = await conn.fetch(
        "SELECT gateway, secret, seq, record_hash FROM canary_reveals WHERE epoch = $1", epoch
    )
    reveals = []
    for row in rows:
        if reveal_hashes is not None and row["record_hash"] not in reveal_hashes:
            continue
        try:
            secret = bytes.fromhex(row["secret"])
        except ValueError:
            continue
        reveals.append(CanaryReveal(row["gateway"], secret, row["seq"], row["record_hash"]))
    return opened(reveals, {r["gateway"]: r["secret_hash"] for r in commits})


async def unrevealed_canary_gateways(conn: Executor, epoch: int, cutoff_seq: int) -> list[str]:
    """Gateways that committed to a canary secret for `epoch` but have not revealed it."""
    rows = await conn.fetch(
        """
        SELECT c.gateway FROM canary_commits AS c
        WHERE c.epoch = $1 AND c.seq <= $2 AND NOT EXISTS (
            SELECT 1 FROM canary_reveals AS r WHERE r.gateway = c.gateway AND r.epoch = c.epoch
        )
        """,
        epoch,
        cutoff_seq,
    )
    return [str(row["gateway"]) for row in rows]


async def build_settlement(
    conn: Executor,
    genesis: Genesis,
    epoch: int,
    cutoff_seq: int,
    previous_hash: str | None,
    canary_reveals: list[str] | None = None,
) -> EpochSettled:
    inferences, verdicts = await load_rows(conn, epoch, cutoff_seq)
    return compute_settlement(
        genesis,
        epoch,
        cutoff_seq,
        inferences,
        verdicts,
        previous_hash,
        await prior_reputation(conn, previous_hash),
        diligence=await load_diligence(conn, epoch, cutoff_seq, previous_hash),
        canaries=await load_canaries(conn, epoch, cutoff_seq, canary_reveals),
    )
