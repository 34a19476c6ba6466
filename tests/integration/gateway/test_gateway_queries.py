"""GET /v1/inferences/{id}, GET /v1/ledger/proofs/{hash}, /health."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from attesta_common.ledger_proof import InclusionProof
from attesta_gateway import lifespan
from gateway_harness import StartGateway

REPO = Path(__file__).resolve().parents[3]
SETTLER_DDL = REPO / "services/epoch-settler/attesta_settler/migrations/001_projections.sql"


async def _ensure_settler_tables(pool: asyncpg.Pool) -> None:
    # The gateway migrates them itself when attesta_settler is installed.
    if await pool.fetchval("SELECT to_regclass('inferences')") is None:
        await pool.execute(SETTLER_DDL.read_text())


def _proof(record_hash: str) -> InclusionProof:
    return InclusionProof(
        record_hash=record_hash,
        batch_seq=1,
        leaf_index=0,
        tree_size=1,
        audit_path=[],
        merkle_root=record_hash,
        anchor_kind="local",
        anchor_ref="1",
        anchor_height=1,
    )


class FakeLedger:
    def __init__(self) -> None:
        self.anchored: set[str] = set()

    async def __call__(self, db: Any, record_hash: str) -> InclusionProof | None:
        return _proof(record_hash) if record_hash in self.anchored else None


async def test_inference_read_model(start_gateway: StartGateway) -> None:
    ledger = FakeLedger()
    gateway = await start_gateway(["ok"], proof_loader=ledger)
    api_key, account = await gateway.new_key()
    other_key, _ = await gateway.new_key(name="other")
    async with gateway.client(api_key) as client:
        done = await client.post(
            "/v1/chat/completions",
            json={"model": gateway.model, "messages": [{"role": "user", "content": "Hi"}]},
        )
    assert done.status_code == 200
    attesta = done.json()["attesta"]
    inference_id = attesta["inference_id"]
    assert inference_id == done.json()["id"]

    # Play the settler: project the two records as it would.
    await _ensure_settler_tables(gateway.pool)
    receipt = {"inference_id": inference_id, "public_key": "02ab", "signature": "cd"}
    await gateway.pool.execute(
        """INSERT INTO inferences (inference_id, epoch, endpoint, model, account, executor,
           gateway, reserved, requested_at_ms, deadline_ms, request_hash, request_seq, status,
           finished_hash, finished_seq, finish_reason, prompt_tokens, completion_tokens, cost,
           receipt)
           VALUES ($1, $2, 'chat', $3, $4, $5, 'gw', 100, 1000, 2000, $6, 1, 'finished', $7, 2,
           'stop', 12, 3, 15, $8::jsonb)""",
        inference_id,
        attesta["epoch"],
        gateway.model,
        account,
        attesta["executor"],
        attesta["request_hash"],
        attesta["finished_hash"],
        json.dumps(receipt),
    )
    await gateway.pool.execute(
        """INSERT INTO verdicts (record_hash, inference_id, epoch, executor, validator, passed,
           checks, reasons, seq) VALUES ('v1', $1, 0, $2, 'val', true, $3::jsonb, '[]', 3)""",
        inference_id,
        attesta["executor"],
        json.dumps({"structure_ok": True, "replay_reported_ok": True}),
    )

    async with gateway.client(api_key) as client:
        before = (await client.get(f"/v1/inferences/{inference_id}")).json()
        ledger.anchored.add(attesta["finished_hash"])
        after = (await client.get(f"/v1/inferences/{inference_id}")).json()
        unknown = await client.get("/v1/inferences/chatcmpl-unknown")
    async with gateway.client(other_key) as client:
        foreign = await client.get(f"/v1/inferences/{inference_id}")

    assert before["anchor"] is None
    assert after["id"] == inference_id and after["object"] == "attesta.inference"
    assert after["status"] == "finished" and after["finish_reason"] == "stop"
    assert after["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert after["receipt"] == receipt
    assert after["records"] == {
        "request": attesta["request_hash"],
        "finished": attesta["finished_hash"],
    }
    assert after["verdicts"] == [
        {
            "validator": "val",
            "passed": True,
            "checks": {"structure_ok": True, "replay_reported_ok": True},
            "reasons": [],
            "record_hash": "v1",
        }
    ]
    assert after["anchor"]["record_hash"] == attesta["finished_hash"]
    assert unknown.status_code == 404
    assert foreign.status_code == 404


async def test_ledger_proofs(start_gateway: StartGateway) -> None:
    ledger = FakeLedger()
    ledger.anchored.add("ab" * 32)
    gateway = await start_gateway([], proof_loader=ledger)
    async with gateway.client() as client:
        found = await client.get(f"/v1/ledger/proofs/{'ab' * 32}")
        missing = await client.get(f"/v1/ledger/proofs/{'cd' * 32}")
    assert found.status_code == 200
    assert InclusionProof.model_validate(found.json()) == _proof("ab" * 32)
    assert missing.status_code == 404


async def test_ledger_without_chain_writer_is_503(
    start_gateway: StartGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifespan, "default_proof_loader", lambda: None)
    gateway = await start_gateway([])
    async with gateway.client() as client:
        response = await client.get(f"/v1/ledger/proofs/{'ab' * 32}")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ledger_unavailable"


async def test_health(start_gateway: StartGateway) -> None:
    gateway = await start_gateway(["ok"])
    async with gateway.client() as client:
        health = await client.get("/health")
        live = await client.get("/health/live")
        await gateway.ctx.broker.connection.close()  # NATS gone: not healthy any more
        degraded = await client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "nats": True, "database": True, "live_executors": 1}
    assert live.status_code == 200
    assert degraded.status_code == 503 and degraded.json()["nats"] is False


async def test_real_ledger_and_read_models_when_installed(start_gateway: StartGateway) -> None:
    pytest.importorskip("attesta_chain_writer.proofs")
    pytest.importorskip("attesta_settler")
    gateway = await start_gateway([])
    components = {
        row["component"]
        for row in await gateway.pool.fetch("SELECT DISTINCT component FROM schema_migrations")
    }
    assert components == {"common", "settler", "chain_writer"}
    api_key, _ = await gateway.new_key()
    async with gateway.client(api_key) as client:
        proof = await client.get(f"/v1/ledger/proofs/{'ef' * 32}")
        inference = await client.get("/v1/inferences/chatcmpl-none")
    assert proof.status_code == 404 and proof.json()["error"]["code"] == "not_found"
    assert inference.status_code == 404


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus exposition, 0 if absent."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") or line.startswith(f"{name} "):
            head, _, value = line.rpartition(" ")
            got = head[len(name) :].strip("{}")
            if ",".join(sorted(got.split(","))) == wanted or (not wanted and not got):
                return float(value)
    return 0.0


async def test_metrics_count_requests_and_time_to_first_token(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key(balance=100_000)
    async with gateway.client(api_key) as client:
        before = (await client.get("/metrics")).text
        body = {"model": gateway.model, "messages": [{"role": "user", "content": "Hi"}]}
        assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
        assert (await client.get("/v1/inferences/chatcmpl-unknown")).status_code == 404
        after = (await client.get("/metrics")).text
    chat = {"route": "/v1/chat/completions", "status": "200"}
    assert _sample(after, "attesta_gateway_requests_total", **chat) == (
        _sample(before, "attesta_gateway_requests_total", **chat) + 1
    )
    # The route template, never the raw id, labels the request.
    assert (
        _sample(
            after,
            "attesta_gateway_requests_total",
            route="/v1/inferences/{inference_id}",
            status="404",
        )
        >= 1
    )
    ttft = "attesta_gateway_time_to_first_token_seconds_count"
    assert (
        _sample(after, ttft, model=gateway.model) == _sample(before, ttft, model=gateway.model) + 1
    )
