"""attesta-gateway-admin: keys are printed once and stored only as their sha256."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import asyncpg
import pytest
from attesta_gateway import accounts, cli


async def _admin(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = 0
    try:
        await asyncio.to_thread(cli.main, list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, json.loads(capsys.readouterr().out.strip().splitlines()[-1])


async def test_create_key_balance_topup(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTESTA_DATABASE_URL", database_url)

    code, created = await _admin(capsys, "create-key", "--name", "alice", "--balance", "500")
    assert code == 0 and created["status"] == "created"
    api_key = str(created["key"])
    assert re.fullmatch(r"sk-attesta-[0-9a-f]{40}", api_key)

    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM accounts")
        assert len(rows) == 1
        row = dict(rows[0])
        assert row["key_hash"] == hashlib.sha256(api_key.encode()).hexdigest()
        assert api_key not in json.dumps(row, default=str)  # never the key itself
        assert row["balance"] == 500 and row["name"] == "alice"
    finally:
        await conn.close()

    fixed = "sk-attesta-" + "1" * 40
    code, first = await _admin(
        capsys, "create-key", "--name", "bob", "--balance", "7", "--key", fixed
    )
    assert code == 0 and first["status"] == "created" and first["key"] == fixed
    code, again = await _admin(
        capsys, "create-key", "--name", "bob", "--balance", "7", "--key", fixed
    )
    assert code == 0 and again["status"] == "exists" and again["account"] == first["account"]
    assert "key" not in again

    code, balance = await _admin(capsys, "balance", "--key", api_key)
    assert (code, balance) == (0, {"account": created["account"], "balance": 500})
    code, topped = await _admin(
        capsys, "topup", "--account", str(created["account"]), "--amount", "25"
    )
    assert (code, topped["balance"]) == (0, 525)
    code, unknown = await _admin(capsys, "balance", "--key", "sk-attesta-unknown-key-000000")
    assert code == 1 and "error" in unknown


async def test_ensure_api_key_seeds_a_fresh_database_once(database_url: str) -> None:
    # What the devnet launcher does before any service has started (no tables yet).
    first, created = await accounts.ensure_api_key(database_url, "dev", "sk-attesta-dev", 1000)
    again, created_again = await accounts.ensure_api_key(database_url, "dev", "sk-attesta-dev", 5)
    assert created and not created_again
    assert again == first and again.balance == 1000
