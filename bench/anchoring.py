"""Records per second through the chain-writer into the ledger, and chain bytes per
inference when each batch is anchored by one Cosmos transaction.

    make bench-anchoring     # RECORDS=50000 RUNS=3 BATCH_SIZE=10000 by default

Each run publishes RECORDS signed records into a fresh JetStream stream, then starts the
chain-writer in-process (real NATS, real Postgres) anchoring through `CosmosAnchor` over
the in-process `MemoryChain` (real signed transaction bytes, instant blocks), and times
it from start until every record sits in an anchored, announced batch. Chain bytes per
inference = the anchoring transactions' bytes / records x 4 (an inference leaves about 4
records: request, finished, two verdicts). One JSON line at the end: medians over runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time

from attesta_chain_writer.cosmos.factory import build_cosmos_anchor
from attesta_chain_writer.cosmos.memory_chain import MemoryChain
from attesta_chain_writer.service import ChainWriter, migrate_database
from attesta_chain_writer.settings import ChainWriterSettings
from attesta_common.broker import MSG_ID_HEADER, ensure_streams
from attesta_common.db import create_pool
from attesta_common.subjects import seed_committed
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from nats.aio.client import Client as NatsClient
from tqdm import tqdm

from bench.anchoring_infra import infrastructure, signed_records

RECORDS_PER_INFERENCE = 4


async def _publish(nats_url: str, records: list[bytes], ids: list[str], subject: str) -> float:
    nc = NatsClient()
    await nc.connect(nats_url)
    js = nc.jetstream()
    await ensure_streams(js)
    started = time.perf_counter()
    for start in tqdm(range(0, len(records), 1000), desc="publishing", unit="k", leave=False):
        await asyncio.gather(
            *(
                js.publish(subject, data, headers={MSG_ID_HEADER: msg_id})
                for data, msg_id in zip(
                    records[start : start + 1000], ids[start : start + 1000], strict=True
                )
            )
        )
    elapsed = time.perf_counter() - started
    await nc.close()
    return len(records) / elapsed


async def one_run(count: int, batch_size: int) -> dict[str, float]:
    keys = DevnetKeys.generate(executors=1, validators=2)
    genesis = build_genesis(keys, epoch_seconds=3600.0, settle_grace_seconds=1.0)
    records = signed_records(keys.validators, count)
    async with infrastructure() as (nats_url, database_url):
        publish_rate = await _publish(
            nats_url,
            [r.to_bytes() for r in records],
            [r.hash for r in records],
            seed_committed(keys.validators[0].address),
        )
        pool = await create_pool(database_url)
        await migrate_database(pool)
        # The service's batch interval and fetch size unless overridden (BATCH_INTERVAL_MS,
        # FETCH_BATCH_SIZE), so the batches are those the service forms.
        tuning = {
            name.lower(): int(os.environ[name])
            for name in ("BATCH_INTERVAL_MS", "FETCH_BATCH_SIZE")
            if name in os.environ
        }
        settings = ChainWriterSettings(
            nats_url=nats_url,
            database_url=database_url,
            batch_size=batch_size,
            anchor="cosmos",
            cosmos_gas_limit=200_000,
            cosmos_fee_amount=5000,
            **tuning,
        )
        chain = MemoryChain(chain_id=settings.cosmos_chain_id)
        anchor = build_cosmos_anchor(settings, genesis, keys.chain_writer, pool, chain)
        writer = ChainWriter(settings, genesis, keys.chain_writer, pool, anchor=anchor)
        started = time.perf_counter()
        await writer.start()
        with tqdm(total=count, desc="anchoring", unit="rec", leave=False) as bar:
            done = 0
            while done < count:
                await asyncio.sleep(0.05)
                anchored = await pool.fetchval(
                    "SELECT coalesce(sum(leaf_count), 0) FROM ledger_batches"
                    " WHERE state = 'anchored' AND announced_at IS NOT NULL"
                )
                bar.update(anchored - done)
                done = anchored
        elapsed = time.perf_counter() - started
        await writer.stop()
        tx_bytes = await pool.fetchval("SELECT sum(length(tx_bytes)) FROM cosmos_anchors")
        batches = await pool.fetchval("SELECT count(*) FROM cosmos_anchors")
        await pool.close()
    return {
        "records_per_s": count / elapsed,
        "publish_per_s": publish_rate,
        "batches": batches,
        "tx_bytes_per_batch": tx_bytes / batches,
        "chain_bytes_per_inference": tx_bytes / count * RECORDS_PER_INFERENCE,
    }


def main() -> None:
    count = int(os.environ.get("RECORDS", "50000"))
    runs = int(os.environ.get("RUNS", "3"))
    batch_size = int(os.environ.get("BATCH_SIZE", "10000"))
    results = [asyncio.run(one_run(count, batch_size)) for _ in range(runs)]
    header = ("run", "records/s", "publish/s", "batches", "tx B/batch", "B/inference")
    print("{:>4} {:>10} {:>10} {:>8} {:>10} {:>12}".format(*header))
    for i, r in enumerate(results, 1):
        print(
            f"{i:>4} {r['records_per_s']:>10.0f} {r['publish_per_s']:>10.0f} {r['batches']:>8.0f}"
            f" {r['tx_bytes_per_batch']:>10.0f} {r['chain_bytes_per_inference']:>12.4f}"
        )
    summary = {
        key: round(statistics.median(r[key] for r in results), 4)
        for key in (
            "records_per_s",
            "chain_bytes_per_inference",
            "publish_per_s",
            "tx_bytes_per_batch",
        )
    }
    summary.update(
        {
            "records": count,
            "runs": runs,
            "batch_size": batch_size,
            "records_per_inference": RECORDS_PER_INFERENCE,
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
