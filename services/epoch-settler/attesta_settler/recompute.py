"""Recomputes a stored settlement from the projected rows, to audit it.

The stored record fixes the cutoff and the previous settlement; everything else is
recomputed, so an equal hash shows the settlement follows from the rows and the rules.
"""

from __future__ import annotations

import json

import asyncpg
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey

from attesta_settler.inputs import build_settlement


async def stored_settlement_hash(pool: asyncpg.Pool, epoch: int) -> str | None:
    value = await pool.fetchval(
        "SELECT settlement_hash FROM epoch_settlements WHERE epoch = $1", epoch
    )
    return str(value) if value is not None else None


async def recompute_settlement(
    pool: asyncpg.Pool, genesis: Genesis, key: SigningKey, epoch: int
) -> SignedRecord:
    """The settlement of `epoch` as recomputed now; raises LookupError if it was never settled."""
    row = await pool.fetchrow(
        "SELECT cutoff_seq, record FROM epoch_settlements WHERE epoch = $1", epoch
    )
    if row is None:
        raise LookupError(f"epoch {epoch} has no settlement")
    body = json.loads(row["record"])["body"]
    settled = await build_settlement(
        pool,
        genesis,
        epoch,
        row["cutoff_seq"],
        body["previous_settlement_hash"],
        canary_reveals=body.get("canary_reveals", []),
    )
    return sign_event(settled, key)
