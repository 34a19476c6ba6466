"""`attesta-ledger proof` against the database, `attesta-ledger verify` offline."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import asyncpg
import pytest
from attesta_chain_writer import cli
from attesta_chain_writer.local_ledger import LocalLedger
from attesta_chain_writer.pending import PendingRecord, add_pending
from attesta_chain_writer.sealing import mark_anchored, seal_batch
from attesta_common.genesis import Genesis
from attesta_devnet.genesis_builder import DevnetKeys

HASHES = [hashlib.sha256(f"cli {i}".encode()).hexdigest() for i in range(5)]


@pytest.fixture
async def anchored(pool: asyncpg.Pool, devnet_keys: DevnetKeys, genesis: Genesis) -> None:
    await add_pending(pool, [PendingRecord(h, "X", i + 1) for i, h in enumerate(HASHES)])
    batch = await seal_batch(pool, batch_size=10)
    assert batch is not None
    ledger = LocalLedger(pool, devnet_keys.chain_writer, genesis.chain_id)
    await mark_anchored(pool, batch, await ledger.anchor(batch))


@pytest.fixture
def genesis_file(tmp_path: Path, genesis: Genesis) -> Path:
    path = tmp_path / "genesis.json"
    genesis.save(path)
    return path


async def _cli(*argv: str) -> int:
    # The CLI runs its own event loop, as it does from a shell.
    return await asyncio.to_thread(cli.main, list(argv))


async def test_proof_then_verify(
    anchored: None,
    database_url: str,
    genesis_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proof_file = tmp_path / "proof.json"

    assert await _cli("proof", HASHES[2], "--database-url", database_url) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (
        await _cli("proof", HASHES[2], "--database-url", database_url, "--output", str(proof_file))
        == 0
    )
    assert json.loads(proof_file.read_text()) == printed
    assert printed["record_hash"] == HASHES[2] and printed["leaf_index"] == 2

    assert await _cli("verify", str(proof_file), "--genesis", str(genesis_file)) == 0
    assert capsys.readouterr().out.startswith("OK")

    printed["leaf_index"] = 3
    proof_file.write_text(json.dumps(printed))
    assert await _cli("verify", str(proof_file), "--genesis", str(genesis_file)) == 1
    assert "FAIL: audit path does not lead to the Merkle root" in capsys.readouterr().out


async def test_proof_of_an_unanchored_record_exits_1(
    anchored: None, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await _cli("proof", "ab" * 32, "--database-url", database_url) == 1
    assert "not in an anchored batch" in capsys.readouterr().err


def test_verify_of_an_unreadable_proof_exits_1(
    genesis_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert cli.main(["verify", str(bad), "--genesis", str(genesis_file)]) == 1
    assert cli.main(["verify", str(tmp_path / "missing.json"), "--genesis", str(genesis_file)]) == 1
    assert "cannot read" in capsys.readouterr().err
