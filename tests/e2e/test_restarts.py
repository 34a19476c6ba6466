"""Every accepted inference ends with its records anchored exactly once, whatever restarts
in between: crash (SIGKILL) the chain-writer, the settler and a validator mid-traffic,
bring them back, and compare the record stream with the ledger."""

from __future__ import annotations

import asyncio
import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import nats
import pytest
from attesta_common.subjects import RECORDS_ALL
from attesta_devnet.network import Network
from openai import OpenAI

pytestmark = [pytest.mark.e2e, pytest.mark.model]
MODEL = "SmolLM2-135M-Instruct"
CRASHED = ("chain-writer", "epoch-settler", "validator-0")


async def _stream_hashes(nats_url: str) -> set[str]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        sub = await js.subscribe(RECORDS_ALL, ordered_consumer=True)
        hashes: set[str] = set()
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except nats.errors.TimeoutError:
                return hashes
            hashes.add(hashlib.sha256(msg.data).hexdigest())
    finally:
        await nc.close()


async def _leaf_counts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT l.record_hash, count(*) AS n FROM ledger_leaves l "
            "JOIN ledger_batches b USING (batch_seq) WHERE b.state = 'anchored' "
            "GROUP BY l.record_hash"
        )
    finally:
        await conn.close()
    return {row["record_hash"]: row["n"] for row in rows}


def test_records_are_anchored_exactly_once_across_crashes(network: Network) -> None:
    client = OpenAI(
        base_url=f"{network.gateway_url}/v1", api_key=network.config.dev_api_key, max_retries=0
    )

    def ask(seed: int) -> str:
        return client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"Give me a number above {seed}."}],
            max_tokens=8,
            seed=seed,
        ).id

    with ThreadPoolExecutor(max_workers=3) as pool:
        pending = [pool.submit(ask, seed) for seed in range(3)]
        time.sleep(0.5)
        for name in CRASHED:  # mid-traffic, without any graceful flush
            network.kill(name)
        ids = [future.result(timeout=120) for future in pending]
        for name in CRASHED:
            network.service(name).start()
        ids += [pool.submit(ask, seed).result(timeout=120) for seed in range(3, 5)]
    assert len(set(ids)) == 5

    deadline = time.monotonic() + 90
    while True:
        streamed = asyncio.run(_stream_hashes(network.nats_url))
        anchored = asyncio.run(_leaf_counts(network.database_url))
        if streamed <= anchored.keys() or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert streamed - anchored.keys() == set(), "records in the stream but never anchored"
    assert all(count == 1 for count in anchored.values())
    assert anchored.keys() <= streamed, "anchored something that was never published"
