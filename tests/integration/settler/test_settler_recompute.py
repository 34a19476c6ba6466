"""Recomputing settlements, and epochs settled one after another in a chain."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from attesta_common import subjects
from attesta_settler.recompute import recompute_settlement
from settler_records import SETTLED_EPOCH, eventually, finished, publish, requested
from settler_scenario import Net, seed_escrow, settle_published_epoch, settlement


async def test_recompute_reproduces_the_stored_hash_and_detects_tampering(
    net: Net, tmp_path: Path
) -> None:
    await seed_escrow(net.pool)
    await settle_published_epoch(net)
    stored = await net.pool.fetchval(
        "SELECT settlement_hash FROM epoch_settlements WHERE epoch = $1", SETTLED_EPOCH
    )
    recomputed = await recompute_settlement(net.pool, net.genesis, net.keys.settler, SETTLED_EPOCH)
    assert recomputed.hash == stored

    # Rows written after the cutoff do not change the recomputation.
    cutoff = await net.pool.fetchval(
        "SELECT cutoff_seq FROM epoch_settlements WHERE epoch = $1", SETTLED_EPOCH
    )
    await net.pool.execute(
        """
        INSERT INTO inferences (inference_id, epoch, endpoint, model, account, executor,
            gateway, reserved, requested_at_ms, deadline_ms, request_hash, request_seq, status,
            finished_seq, cost)
        VALUES ('inf-late', $1, 'completion', 'm', 'acct-1', $2, $3, 10, 0, 1, 'h', $4,
            'finished', $5, 10)
        """,
        SETTLED_EPOCH,
        net.keys.executors[1].address,
        net.keys.gateway.address,
        cutoff + 1,
        cutoff + 2,
    )
    await net.pool.execute(
        """
        INSERT INTO verdicts (record_hash, inference_id, epoch, executor, validator, passed,
            checks, reasons, seq)
        VALUES ('late', 'inf-e', $1, $2, $3, false, '{}', '[]', $4)
        """,
        SETTLED_EPOCH,
        net.keys.executors[1].address,
        net.keys.validators[0].address,
        cutoff + 3,
    )
    again = await recompute_settlement(net.pool, net.genesis, net.keys.settler, SETTLED_EPOCH)
    assert again.hash == stored

    exit_code = await _admin_recompute(net, SETTLED_EPOCH, tmp_path)
    assert exit_code == 0
    await net.pool.execute("UPDATE verdicts SET passed = NOT passed WHERE inference_id = 'inf-b'")
    assert await _admin_recompute(net, SETTLED_EPOCH, tmp_path) == 1


async def _admin_recompute(net: Net, epoch: int, folder: Path) -> int:
    net.genesis.save(folder / "genesis.json")
    net.keys.settler.save(folder / "settler.key")
    env = {
        **os.environ,
        "ATTESTA_DATABASE_URL": net.database_url,
        "ATTESTA_GENESIS_PATH": str(folder / "genesis.json"),
        "ATTESTA_KEY_PATH": str(folder / "settler.key"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "attesta_settler.cli", "recompute", "--epoch", str(epoch), env=env
    )
    return await process.wait()


async def test_epochs_settle_in_order_chained_and_empty_epochs_skipped(net: Net) -> None:
    ex0 = net.keys.executors[0]
    for inference_id, epoch in [("inf-3", SETTLED_EPOCH), ("inf-5", SETTLED_EPOCH + 2)]:
        request = requested(net.keys.gateway, inference_id, ex0, epoch=epoch)
        await publish(net.js, subjects.inference_requested(ex0.address), request)
        await publish(
            net.js, subjects.inference_finished(ex0.address), finished(request, ex0, 1, 1)
        )
    settler = net.settler()
    await settler.start()
    try:

        async def both_settled() -> bool:
            return await net.pool.fetchval("SELECT count(*) FROM epoch_settlements") == 2

        await eventually(both_settled, what="epochs 3 and 5 to be settled")
    finally:
        await settler.stop()
    rows = await net.pool.fetch(
        "SELECT epoch, settlement_hash, seq FROM epoch_settlements ORDER BY epoch"
    )
    assert [r["epoch"] for r in rows] == [SETTLED_EPOCH, SETTLED_EPOCH + 2]
    assert rows[0]["seq"] < rows[1]["seq"]
    later = await settlement(net.pool, SETTLED_EPOCH + 2)
    assert later is not None
    assert later.previous_settlement_hash == rows[0]["settlement_hash"]
    assert {p.address: p.reputation for p in later.participants}[ex0.address] == 20
    assert (
        await net.pool.fetchval(
            "SELECT reputation FROM participant_state WHERE address = $1", ex0.address
        )
        == 20
    )
