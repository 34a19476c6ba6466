"""Signed records, a short-epoch genesis and Postgres helpers for the settler tests."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

import asyncpg
from attesta_common.broker import record_headers
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import (
    CheckResults,
    InferenceFailed,
    InferenceFinished,
    InferenceRequested,
    Receipt,
    SamplingParams,
    Usage,
    ValidationVerdict,
)
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.subjects import RECORDS_STREAM
from attesta_devnet.genesis_builder import REFERENCE_MODEL, DevnetKeys, build_genesis
from nats.js import JetStreamContext

SETTLED_EPOCH = 3
FUTURE_EPOCH = 10**6


def short_epoch_genesis(keys: DevnetKeys) -> Genesis:
    """Epochs of 2 s that started a minute ago: epoch 3 is long over, epoch 10**6 far off."""
    return build_genesis(
        keys,
        epoch_seconds=2.0,
        settle_grace_seconds=0.5,
        genesis_time_ms=int(time.time() * 1000) - 60_000,
    )


def requested(
    gateway: SigningKey,
    inference_id: str,
    executor: SigningKey,
    *,
    account: str = "acct-1",
    reserved: int = 200,
    epoch: int = SETTLED_EPOCH,
    deadline_ms: int = 1,
) -> SignedRecord:
    return sign_event(
        InferenceRequested(
            inference_id=inference_id,
            endpoint="completion",
            epoch=epoch,
            model=REFERENCE_MODEL,
            prompt="2 + 2 =",
            sampling=SamplingParams(seed=7, max_tokens=16),
            account=account,
            executor=executor.address,
            reserved=reserved,
            requested_at_ms=0,
            deadline_ms=deadline_ms,
        ),
        gateway,
    )


def finished(
    request: SignedRecord, executor: SigningKey, prompt_tokens: int, completion_tokens: int
) -> SignedRecord:
    body = request.body
    receipt = Receipt(
        inference_id=body["inference_id"],
        executor=executor.address,
        model=body["model"],
        prompt_hash="p" * 64,
        sampling_hash="s" * 64,
        seed=body["sampling"]["seed"],
        output_hash="o" * 64,
        artifact_hash="a" * 64,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        public_key=executor.public_key_hex,
    )
    return sign_event(
        InferenceFinished(
            inference_id=body["inference_id"],
            epoch=body["epoch"],
            executor=executor.address,
            request_hash=request.hash,
            request=request.model_dump(mode="json"),
            prompt_token_ids=list(range(prompt_tokens)),
            output_token_ids=list(range(completion_tokens)),
            text=" 4",
            finish_reason="stop",
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens),
            artifact=base64.b64encode(b"top-k").decode(),
            receipt=receipt,
        ),
        executor,
    )


def failed(request: SignedRecord, executor: SigningKey) -> SignedRecord:
    body = request.body
    return sign_event(
        InferenceFailed(
            inference_id=body["inference_id"],
            epoch=body["epoch"],
            executor=executor.address,
            request_hash=request.hash,
            code="engine_error",
            message="out of memory",
        ),
        executor,
    )


def verdict(finished_record: SignedRecord, validator: SigningKey, passed: bool) -> SignedRecord:
    body = finished_record.body
    return sign_event(
        ValidationVerdict(
            inference_id=body["inference_id"],
            epoch=body["epoch"],
            executor=body["executor"],
            validator=validator.address,
            finished_hash=finished_record.hash,
            passed=passed,
            checks=CheckResults(structure_ok=True, replay_reported_ok=passed),
            reasons=[] if passed else ["distance above threshold"],
        ),
        validator,
    )


async def publish(js: JetStreamContext, subject: str, record: SignedRecord) -> int:
    ack = await js.publish(
        subject, record.to_bytes(), stream=RECORDS_STREAM, headers=record_headers(record)
    )
    return ack.seq


async def eventually(
    probe: Callable[[], Awaitable[bool]], *, timeout_s: float = 15.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def position(pool: asyncpg.Pool) -> int:
    value = await pool.fetchval(
        "SELECT stream_seq FROM projection_positions WHERE consumer = 'settler'"
    )
    return int(value or 0)


async def last_seq(js: JetStreamContext) -> int:
    return int((await js.stream_info(RECORDS_STREAM)).state.last_seq)


async def caught_up(pool: asyncpg.Pool, js: JetStreamContext) -> None:
    target = await last_seq(js)

    async def reached() -> bool:
        return await position(pool) >= target

    await eventually(reached, what=f"projection to reach seq {target}")


async def snapshot(pool: asyncpg.Pool) -> dict[str, object]:
    """Everything a double application would change."""
    return {
        "accounts": [
            tuple(r) for r in await pool.fetch("SELECT id, balance FROM accounts ORDER BY id")
        ],
        "reservations": [
            tuple(r)
            for r in await pool.fetch(
                "SELECT inference_id, state, charged FROM reservations ORDER BY inference_id"
            )
        ],
        "balances": [
            tuple(r)
            for r in await pool.fetch(
                "SELECT address, balance FROM participant_balances ORDER BY 1"
            )
        ],
        "state": [
            tuple(r) for r in await pool.fetch("SELECT * FROM participant_state ORDER BY address")
        ],
        "inferences": [
            tuple(r)
            for r in await pool.fetch(
                "SELECT inference_id, status, request_seq, finished_seq, cost FROM inferences "
                "ORDER BY inference_id"
            )
        ],
        "verdicts": [tuple(r) for r in await pool.fetch("SELECT * FROM verdicts ORDER BY 1")],
        "settlements": [
            tuple(r)
            for r in await pool.fetch(
                "SELECT epoch, settlement_hash, cutoff_seq, seq FROM epoch_settlements ORDER BY 1"
            )
        ],
    }
