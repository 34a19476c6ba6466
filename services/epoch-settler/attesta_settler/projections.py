"""What each record kind writes into the read models, inside the projector's transaction.

Every row keeps the stream sequence of the record that wrote it, so a settlement can be
recomputed later from exactly the rows it saw. Records that contradict what is already
projected (a result from an executor that was not drawn, a verdict on another result)
are logged and dropped: they carry a valid signature but no standing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import asyncpg
from attesta_common.envelope import SignedRecord
from attesta_common.events import (
    CanaryCommitted,
    CanaryRevealed,
    EpochSettled,
    Event,
    InferenceFailed,
    InferenceFinished,
    InferenceRequested,
    ValidationVerdict,
    ValidatorSeedCommitted,
    ValidatorSeedRevealed,
)
from attesta_common.genesis import Genesis
from attesta_common.pricing import inference_cost

from attesta_settler.payouts import apply_settlement

log = logging.getLogger(__name__)


async def _requested(
    conn: asyncpg.Connection, record: SignedRecord, event: InferenceRequested, seq: int
) -> None:
    await conn.execute(
        """
        INSERT INTO inferences (inference_id, epoch, endpoint, model, account, executor,
            gateway, reserved, requested_at_ms, deadline_ms, request_hash, request_seq, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'requested')
        ON CONFLICT (inference_id) DO NOTHING
        """,
        event.inference_id,
        event.epoch,
        event.endpoint,
        event.model,
        event.account,
        event.executor,
        record.signer,
        event.reserved,
        event.requested_at_ms,
        event.deadline_ms,
        record.hash,
        seq,
    )


async def _open_request(
    conn: asyncpg.Connection,
    record: SignedRecord,
    event: InferenceFinished | InferenceFailed,
) -> bool:
    """True when this executor may conclude this request, and nothing concluded it yet."""
    row = await conn.fetchrow(
        "SELECT executor, request_hash, status FROM inferences WHERE inference_id = $1",
        event.inference_id,
    )
    if row is None:
        log.warning("%s for unknown inference %s ignored", record.kind, event.inference_id)
        return False
    if row["executor"] != record.signer or row["request_hash"] != event.request_hash:
        log.warning(
            "%s for %s from %s does not match the request ignored",
            record.kind,
            event.inference_id,
            record.signer,
        )
        return False
    if row["status"] != "requested":
        log.info("%s for %s already %s; ignored", record.kind, event.inference_id, row["status"])
        return False
    return True


async def _finished(
    conn: asyncpg.Connection,
    genesis: Genesis,
    record: SignedRecord,
    event: InferenceFinished,
    seq: int,
) -> None:
    if not await _open_request(conn, record, event):
        return
    usage = event.usage
    await conn.execute(
        """
        UPDATE inferences SET status = 'finished', finished_hash = $2, finished_seq = $3,
            finish_reason = $4, prompt_tokens = $5, completion_tokens = $6, cost = $7,
            receipt = $8::jsonb, finished_tag = $9
        WHERE inference_id = $1
        """,
        event.inference_id,
        record.hash,
        seq,
        event.finish_reason,
        usage.prompt_tokens,
        usage.completion_tokens,
        inference_cost(genesis, usage.prompt_tokens, usage.completion_tokens),
        json.dumps(event.receipt.model_dump(mode="json")),
        event.tag,
    )


async def _failed(
    conn: asyncpg.Connection, record: SignedRecord, event: InferenceFailed, seq: int
) -> None:
    if not await _open_request(conn, record, event):
        return
    await conn.execute(
        """
        UPDATE inferences SET status = 'failed', failure_code = $2, failure_message = $3,
            finished_seq = $4
        WHERE inference_id = $1
        """,
        event.inference_id,
        event.code,
        event.message,
        seq,
    )


async def _verdict(
    conn: asyncpg.Connection, record: SignedRecord, event: ValidationVerdict, seq: int
) -> None:
    # The vote is on the finished record this settler projected: a verdict about some other
    # result, or filed in another validator's name, would let one key vote twice.
    if event.validator != record.signer:
        log.warning(
            "verdict signed by %s in the name of %s ignored", record.signer, event.validator
        )
        return
    target = await conn.fetchrow(
        "SELECT epoch, executor, finished_hash FROM inferences WHERE inference_id = $1",
        event.inference_id,
    )
    if target is None or target["finished_hash"] != event.finished_hash:
        log.warning("verdict on %s does not match its finished record; ignored", event.inference_id)
        return
    await conn.execute(
        """
        INSERT INTO verdicts (record_hash, inference_id, epoch, executor, validator, passed,
            checks, reasons, seq)
        VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
        ON CONFLICT DO NOTHING
        """,
        record.hash,
        event.inference_id,
        target["epoch"],
        target["executor"],
        event.validator,
        event.passed,
        json.dumps(event.checks.model_dump(mode="json")),
        json.dumps(event.reasons),
        seq,
    )


async def _first_by_owner(
    conn: asyncpg.Connection,
    record: SignedRecord,
    owner: str,
    what: str,
    table: str,
    row: dict[str, Any],
) -> None:
    """Store a commitment or reveal signed by its owner; the first per (owner, epoch) counts,
    so nobody can swap a seed or secret after seeing the audit."""
    if owner != record.signer:
        log.warning("%s signed by %s for %s ignored", what, record.signer, owner)
        return
    # `table` and the column names are this module's constants, never record data.
    columns = ", ".join(row)
    placeholders = ", ".join(f"${i}" for i in range(1, len(row) + 1))
    await conn.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
        *row.values(),
    )


async def apply_record(
    conn: asyncpg.Connection, genesis: Genesis, record: SignedRecord, event: Event, seq: int
) -> None:
    """Project one opened (signature- and role-checked) record at stream sequence `seq`."""
    if isinstance(event, InferenceRequested):
        await _requested(conn, record, event, seq)
    elif isinstance(event, InferenceFinished):
        await _finished(conn, genesis, record, event, seq)
    elif isinstance(event, InferenceFailed):
        await _failed(conn, record, event, seq)
    elif isinstance(event, ValidationVerdict):
        await _verdict(conn, record, event, seq)
    elif isinstance(event, ValidatorSeedCommitted):
        row = {
            "validator": event.validator,
            "epoch": event.epoch,
            "seed_hash": event.seed_hash,
            "seq": seq,
        }
        await _first_by_owner(conn, record, event.validator, "seed commit", "seed_commits", row)
    elif isinstance(event, ValidatorSeedRevealed):
        row = {"validator": event.validator, "epoch": event.epoch, "seed": event.seed, "seq": seq}
        await _first_by_owner(conn, record, event.validator, "seed reveal", "seed_reveals", row)
    elif isinstance(event, CanaryCommitted):
        row = {
            "gateway": event.gateway,
            "epoch": event.epoch,
            "secret_hash": event.secret_hash,
            "seq": seq,
        }
        await _first_by_owner(conn, record, event.gateway, "canary commit", "canary_commits", row)
    elif isinstance(event, CanaryRevealed):
        row = {
            "gateway": event.gateway,
            "epoch": event.epoch,
            "secret": event.secret,
            "record_hash": record.hash,
            "seq": seq,
        }
        await _first_by_owner(conn, record, event.gateway, "canary reveal", "canary_reveals", row)
    elif isinstance(event, EpochSettled):
        await apply_settlement(conn, genesis, record, event, seq)
    else:
        log.debug("%s is not projected", record.kind)
