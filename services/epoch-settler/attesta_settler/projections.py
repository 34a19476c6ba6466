"""What each record kind writes into the read models, inside the projector's transaction.

Every row keeps the stream sequence of the record that wrote it, so a settlement can be
recomputed later from exactly the rows it saw. Records that contradict what is already
projected (a result from an executor that was not drawn, a verdict on another result)
are logged and dropped: they carry a valid signature but no standing.
"""

from __future__ import annotations

import json
import logging

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
            receipt = $8::jsonb
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


async def _seed(
    conn: asyncpg.Connection, record: SignedRecord, event: ValidatorSeedCommitted, seq: int
) -> None:
    if event.validator != record.signer:
        log.warning("seed commit signed by %s for %s ignored", record.signer, event.validator)
        return
    await conn.execute(
        """
        INSERT INTO seed_commits (validator, epoch, seed_hash, seq) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING
        """,
        event.validator,
        event.epoch,
        event.seed_hash,
        seq,
    )


async def _reveal(
    conn: asyncpg.Connection, record: SignedRecord, event: ValidatorSeedRevealed, seq: int
) -> None:
    # The first reveal counts: a validator cannot swap its seed after seeing the audit.
    if event.validator != record.signer:
        log.warning("seed reveal signed by %s for %s ignored", record.signer, event.validator)
        return
    await conn.execute(
        """
        INSERT INTO seed_reveals (validator, epoch, seed, seq) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING
        """,
        event.validator,
        event.epoch,
        event.seed,
        seq,
    )


async def _canary_commit(
    conn: asyncpg.Connection, record: SignedRecord, event: CanaryCommitted, seq: int
) -> None:
    if event.gateway != record.signer:
        log.warning("canary commit signed by %s for %s ignored", record.signer, event.gateway)
        return
    await conn.execute(
        """
        INSERT INTO canary_commits (gateway, epoch, secret_hash, seq) VALUES ($1, $2, $3, $4)
        ON CONFLICT DO NOTHING
        """,
        event.gateway,
        event.epoch,
        event.secret_hash,
        seq,
    )


async def _canary_reveal(
    conn: asyncpg.Connection, record: SignedRecord, event: CanaryRevealed, seq: int
) -> None:
    if event.gateway != record.signer:
        log.warning("canary reveal signed by %s for %s ignored", record.signer, event.gateway)
        return
    await conn.execute(
        """
        INSERT INTO canary_reveals (gateway, epoch, secret, record_hash, seq)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT DO NOTHING
        """,
        event.gateway,
        event.epoch,
        event.secret,
        record.hash,
        seq,
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
        await _seed(conn, record, event, seq)
    elif isinstance(event, ValidatorSeedRevealed):
        await _reveal(conn, record, event, seq)
    elif isinstance(event, CanaryCommitted):
        await _canary_commit(conn, record, event, seq)
    elif isinstance(event, CanaryRevealed):
        await _canary_reveal(conn, record, event, seq)
    elif isinstance(event, EpochSettled):
        await apply_settlement(conn, record, event, seq)
    else:
        log.debug("%s is not projected", record.kind)
