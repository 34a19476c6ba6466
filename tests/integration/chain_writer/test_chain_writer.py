"""The chain-writer against real NATS JetStream and real Postgres, run in-process."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
from attesta_chain_writer import cli
from attesta_chain_writer.local_ledger import LocalLedger
from attesta_chain_writer.pending import PendingRecord, add_pending, count_pending
from attesta_chain_writer.proofs import load_proof
from attesta_chain_writer.sealing import mark_anchored, seal_batch
from attesta_chain_writer.service import ChainWriter
from attesta_chain_writer.settings import ChainWriterSettings
from attesta_common.broker import MSG_ID_HEADER
from attesta_common.envelope import SignedRecord, read_record, sign_event
from attesta_common.events import BatchAnchored, ValidatorSeedCommitted
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_common.ledger_proof import GENESIS_PREV_HASH, verify_proof
from attesta_common.subjects import LEDGER_STREAM, RECORDS_STREAM, seed_committed
from attesta_devnet.genesis_builder import DevnetKeys
from nats.js import JetStreamContext
from prometheus_client.parser import text_string_to_metric_families

MakeSettings = Callable[..., ChainWriterSettings]


def seed_record(key: SigningKey, epoch: int) -> SignedRecord:
    event = ValidatorSeedCommitted(
        validator=key.address, epoch=epoch, seed_hash=secrets.token_hex(32)
    )
    return sign_event(event, key)


async def publish(js: JetStreamContext, record: SignedRecord, msg_id: str | None = None) -> int:
    ack = await js.publish(
        seed_committed(record.signer),
        record.to_bytes(),
        headers={MSG_ID_HEADER: msg_id or record.hash},
    )
    return ack.seq


async def publish_raw(js: JetStreamContext, data: bytes) -> None:
    await js.publish("attesta.records.validation.seed.x", data)


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def anchored_hashes(pool: asyncpg.Pool) -> list[str]:
    rows = await pool.fetch(
        "SELECT l.record_hash FROM ledger_leaves l JOIN ledger_batches b USING (batch_seq)"
        " WHERE b.state = 'anchored' AND b.announced_at IS NOT NULL"
    )
    return [row["record_hash"] for row in rows]


def all_anchored(pool: asyncpg.Pool, hashes: list[str]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return set(hashes) <= set(await anchored_hashes(pool))

    return check


async def announcements(js: JetStreamContext, genesis: Genesis) -> list[BatchAnchored]:
    info = await js.stream_info(LEDGER_STREAM)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        message = await js.get_msg(LEDGER_STREAM, seq)
        assert message.data is not None
        _, event = read_record(message.data, genesis, BatchAnchored)
        found.append(event)
    return found


async def assert_ledger_consistent(
    pool: asyncpg.Pool, js: JetStreamContext, genesis: Genesis, hashes: list[str]
) -> None:
    """Each hash in exactly one anchored, announced batch, with a valid proof."""
    leaves = await pool.fetch("SELECT record_hash FROM ledger_leaves")
    assert sorted(row["record_hash"] for row in leaves) == sorted(hashes)
    assert await count_pending(pool) == 0
    for record_hash in hashes:
        proof = await load_proof(pool, record_hash)
        assert proof is not None
        assert verify_proof(proof, genesis) == []

    batches = await pool.fetch("SELECT * FROM ledger_batches ORDER BY batch_seq")
    assert [b["batch_seq"] for b in batches] == list(range(1, len(batches) + 1))
    blocks = await pool.fetch("SELECT * FROM ledger_blocks ORDER BY height")
    assert [b["batch_seq"] for b in blocks] == [b["batch_seq"] for b in batches]
    prev_hashes = [GENESIS_PREV_HASH, *(b["block_hash"] for b in blocks[:-1])]
    assert [b["prev_hash"] for b in blocks] == prev_hashes

    announced = await announcements(js, genesis)
    assert [(a.batch_seq, a.merkle_root, a.leaf_count, a.anchor_ref) for a in announced] == [
        (b["batch_seq"], b["merkle_root"], b["leaf_count"], b["anchor_ref"]) for b in batches
    ]


async def test_every_record_is_anchored_once_with_a_valid_proof(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
    tmp_path: Path,
) -> None:
    records = [seed_record(devnet_keys.validators[i % 2], i) for i in range(45)]
    hashes = [r.hash for r in records]

    async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool):
        for record in records:
            await publish(js, record)
        await eventually(all_anchored(pool, hashes))

    await assert_ledger_consistent(pool, js, genesis, hashes)
    # 45 records, batches of at most 20.
    sizes = await pool.fetch("SELECT leaf_count FROM ledger_batches")
    assert all(row["leaf_count"] <= 20 for row in sizes)

    proof = await load_proof(pool, hashes[7])
    assert proof is not None
    proof_file, genesis_file = tmp_path / "proof.json", tmp_path / "genesis.json"
    proof_file.write_text(proof.model_dump_json())
    genesis.save(genesis_file)
    assert cli.main(["verify", str(proof_file), "--genesis", str(genesis_file)]) == 0

    tampered = json.loads(proof.model_dump_json())
    tampered["record_hash"] = hashes[8]
    assert verify_proof(proof.model_validate(tampered), genesis) != []
    proof_file.write_text(json.dumps(tampered))
    assert cli.main(["verify", str(proof_file), "--genesis", str(genesis_file)]) == 1


async def test_a_record_published_twice_is_anchored_once(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[0], i) for i in range(5)]
    async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool):
        for record in records:
            await publish(js, record)
        # The same Msg-Id is dropped by JetStream; another Msg-Id (past the dedup window,
        # or a careless publisher) stores a second copy that the writer must skip.
        await publish(js, records[0])
        await publish(js, records[1], msg_id="another id")
        await publish(js, records[2], msg_id="yet another id")
        assert (await js.stream_info(RECORDS_STREAM)).state.messages == 7
        await eventually(all_anchored(pool, [r.hash for r in records]))
        consumer = await js.consumer_info(RECORDS_STREAM, "chain-writer")
        await eventually(lambda: _consumed(js, 7))

    await assert_ledger_consistent(pool, js, genesis, [r.hash for r in records])
    assert consumer.num_redelivered == 0


async def _consumed(js: JetStreamContext, last_seq: int) -> bool:
    info = await js.consumer_info(RECORDS_STREAM, "chain-writer")
    return info.ack_floor is not None and info.ack_floor.stream_seq == last_seq


async def test_restart_with_everything_redelivered_anchors_once(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[1], i) for i in range(50)]
    hashes = [r.hash for r in records]
    # First run: only full batches are sealed (the interval is far away); the last ten
    # records are still pending when it stops without flushing, as if it crashed.
    first = ChainWriter(
        make_settings(batch_interval_ms=600_000), genesis, devnet_keys.chain_writer, pool
    )
    await first.start()
    for record in records:
        await publish(js, record)

    async def two_batches_and_ten_pending() -> bool:
        return len(await anchored_hashes(pool)) == 40 and await count_pending(pool) == 10

    await eventually(two_batches_and_ten_pending)
    await first.stop(flush=False)

    # Lost acks, a new consumer: every record is delivered again from the start.
    await js.delete_consumer(RECORDS_STREAM, "chain-writer")
    async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool):
        await eventually(all_anchored(pool, hashes))
        await eventually(lambda: _consumed(js, 50))

    await assert_ledger_consistent(pool, js, genesis, hashes)
    assert await pool.fetchval("SELECT count(*) FROM ledger_batches") == 3


async def test_stop_flushes_what_is_pending(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[0], i) for i in range(5)]
    writer = ChainWriter(
        make_settings(batch_interval_ms=600_000), genesis, devnet_keys.chain_writer, pool
    )
    await writer.start()
    for record in records:
        await publish(js, record)

    async def all_pending() -> bool:
        return await count_pending(pool) == 5

    await eventually(all_pending)
    assert await anchored_hashes(pool) == []
    await writer.stop()

    await assert_ledger_consistent(pool, js, genesis, [r.hash for r in records])


async def test_invalid_records_are_acked_and_never_inserted(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    validator = devnet_keys.validators[0]
    good = seed_record(validator, 1)
    forged = good.model_copy(update={"body": {**good.body, "epoch": 2}})  # signature no longer fits
    wrong_role = seed_record(devnet_keys.gateway, 1)  # gateways do not commit seeds
    stranger = seed_record(SigningKey.generate(), 1)  # not in genesis at all
    bad = [forged, wrong_role, stranger]

    async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool):
        for record in bad:
            await publish(js, record)
        await publish_raw(js, json.dumps(json.loads(good.to_bytes()), indent=1).encode())
        await publish_raw(js, b"\xff not a record")
        await publish(js, good)
        await eventually(all_anchored(pool, [good.hash]))
        await eventually(lambda: _consumed(js, 6))
        consumer = await js.consumer_info(RECORDS_STREAM, "chain-writer")

    await assert_ledger_consistent(pool, js, genesis, [good.hash])
    assert consumer.num_ack_pending == 0
    assert consumer.num_pending == 0
    assert consumer.num_redelivered == 0


async def test_a_database_failure_leads_to_redelivery_not_loss(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[0], i) for i in range(5)]
    await pool.execute("ALTER TABLE ledger_pending RENAME TO ledger_pending_away")
    try:
        async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool):
            for record in records:
                await publish(js, record)

            async def redelivered() -> bool:
                info = await js.consumer_info(RECORDS_STREAM, "chain-writer")
                return bool(info.num_redelivered)

            await eventually(redelivered)
            await pool.execute("ALTER TABLE ledger_pending_away RENAME TO ledger_pending")
            await eventually(all_anchored(pool, [r.hash for r in records]))
    finally:
        with contextlib.suppress(asyncpg.UndefinedTableError):
            await pool.execute("ALTER TABLE ledger_pending_away RENAME TO ledger_pending")

    await assert_ledger_consistent(pool, js, genesis, [r.hash for r in records])


async def test_batches_left_unfinished_are_finished_at_start(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[0], i) for i in range(6)]
    hashes = [r.hash for r in records]
    await add_pending(
        pool, [PendingRecord(r.hash, r.kind, seq) for seq, r in enumerate(records, start=1)]
    )
    # Batch 1: anchored, then the process died before announcing it.
    first = await seal_batch(pool, batch_size=3)
    assert first is not None
    ledger = LocalLedger(pool, devnet_keys.chain_writer, genesis.chain_id)
    await mark_anchored(pool, first, await ledger.anchor(first))
    # Batch 2: sealed, then the process died before anchoring it.
    second = await seal_batch(pool, batch_size=3)
    assert second is not None

    writer = ChainWriter(
        make_settings(batch_interval_ms=600_000), genesis, devnet_keys.chain_writer, pool
    )
    await writer.start()
    try:
        # Finished by start() itself, before any tick of the batcher.
        assert sorted(await anchored_hashes(pool)) == sorted(hashes)
    finally:
        await writer.stop()

    await assert_ledger_consistent(pool, js, genesis, hashes)


async def http_get(port: int, path: str) -> tuple[int, str]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}{path}")
    return response.status_code, response.text


async def scrape(port: int) -> dict[str, float]:
    """The unlabelled samples of /metrics (gauges, histogram counts and sums)."""
    status, text = await http_get(port, "/metrics")
    assert status == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


async def test_ops_endpoints_answer_and_metrics_follow_the_batches(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    make_settings: MakeSettings,
    devnet_keys: DevnetKeys,
    genesis: Genesis,
) -> None:
    records = [seed_record(devnet_keys.validators[i % 2], i) for i in range(25)]
    writer = ChainWriter(make_settings(ops_port=0), genesis, devnet_keys.chain_writer, pool)
    async with writer:
        assert writer.ops is not None
        port = writer.ops.port
        assert port > 0
        assert await http_get(port, "/health/live") == (200, "live\n")
        assert await http_get(port, "/health/ready") == (200, "ready\n")
        # The registry is process-wide: compare before and after.
        before = await scrape(port)
        assert "attesta_chain_writer_pending_records" in before
        for record in records:
            await publish(js, record)
        await eventually(all_anchored(pool, [r.hash for r in records]))
        after = await scrape(port)
        assert await http_get(port, "/health/ready") == (200, "ready\n")

    batches = await pool.fetchval("SELECT count(*) FROM ledger_batches")
    assert batches >= 2  # 25 records, batches of at most 20
    count = "attesta_chain_writer_batch_records_count"
    total = "attesta_chain_writer_batch_records_sum"
    assert after[count] - before[count] == batches
    assert after[total] - before[total] == len(records)
    lag = "attesta_chain_writer_anchor_lag_seconds_count"
    assert after[lag] - before[lag] == batches
    assert (
        after["attesta_chain_writer_anchor_lag_seconds_sum"]
        >= before["attesta_chain_writer_anchor_lag_seconds_sum"]
    )
    # Stopped: the ops server is gone with the service, and readiness says why.
    assert writer.ops is None
    ready, detail = writer.readiness()
    assert not ready
    assert "NATS not connected" in detail


async def test_without_an_ops_port_there_is_no_ops_server(
    pool: asyncpg.Pool, make_settings: MakeSettings, devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    async with ChainWriter(make_settings(), genesis, devnet_keys.chain_writer, pool) as writer:
        assert writer.ops is None
        assert writer.readiness() == (True, "ready")
