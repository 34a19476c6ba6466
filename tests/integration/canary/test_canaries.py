"""Canaries end to end: the gateway plants copies of real requests on the network's canary
executor, which spoils them; the real validator fails them (and passes the real work), a
rubber-stamping validator passes them; after the cutoff the gateway reveals its secret and
the settler leaves the canaries out of the executor's work and refunds and flags the
rubber stamp. Real NATS, Postgres, model, gateway, executor, validator and settler."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import nats
import pytest
from attesta_common.canary import epoch_canary_secret, is_canary
from attesta_common.db import create_pool
from attesta_common.envelope import SignedRecord, parse_record, sign_event
from attesta_common.events import CheckResults, EpochSettled, ValidationVerdict
from attesta_common.genesis import ModelSpec
from attesta_common.subjects import verdict
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from attesta_devnet.ports import free_port
from attesta_engine.loader import load_reference_engine
from attesta_engine.reference import ReferenceEngine
from attesta_executor.service import Executor
from attesta_executor.settings import ExecutorSettings
from attesta_gateway.accounts import create_account
from attesta_gateway.settings import GatewaySettings
from attesta_settler.canaries import APPROVED_CANARY
from attesta_settler.main import Settler
from attesta_validator.main import Validator
from attesta_validator.settings import ValidatorSettings

pytestmark = pytest.mark.model
# tests/integration/conftest.py: (settings[, tracer provider]) -> async context of the URL.
ServeGateway = Callable[..., AbstractAsyncContextManager[str]]
API_KEY = "sk-attesta-canary"
REAL_REQUESTS = 3
EPOCH_S = 45.0


@pytest.fixture(scope="module")
def engine() -> ReferenceEngine:
    return load_reference_engine(ModelSpec(name="SmolLM2-135M-Instruct"))


async def _eventually(check: object, what: str, timeout_s: float) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


async def test_canaries_are_planted_caught_revealed_and_settled(
    tmp_path: Path,
    nats_url: str,
    database_url: str,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    serve_gateway: ServeGateway,
) -> None:
    # Epoch 0 ends EPOCH_S - 5 s from now: time to start, serve and check.
    genesis = build_genesis(
        devnet_keys,
        epoch_seconds=EPOCH_S,
        settle_grace_seconds=3.0,
        genesis_time_ms=int(time.time() * 1000) - 5000,
    )
    canary_executor = devnet_keys.executors[0]
    honest_validator, rubber_stamp = devnet_keys.validators
    genesis_path, key_path, canary_key = (
        tmp_path / "genesis.json",
        tmp_path / "gateway.key",
        tmp_path / "canary.key",
    )
    genesis.save(genesis_path)
    devnet_keys.gateway.save(key_path)
    canary_key.write_text(secrets.token_hex(32))
    gateway_settings = GatewaySettings(
        nats_url=nats_url,
        database_url=database_url,
        genesis_path=genesis_path,
        key_path=key_path,
        port=free_port(),
        canary_key_path=canary_key,
        canary_executors=[canary_executor.address],
        canary_rate=1.0,
        canary_reveal_delay_s=0.5,
    )
    executor = Executor(
        ExecutorSettings(nats_url=nats_url, canary_key_path=canary_key),
        genesis,
        canary_executor,
        engine=engine,
    )
    validator = Validator(
        ValidatorSettings(nats_url=nats_url), genesis=genesis, key=honest_validator, engine=engine
    )
    settler = Settler(
        nats_url=nats_url,
        database_url=database_url,
        genesis=genesis,
        key=devnet_keys.settler,
        interval_s=0.2,
        canary_reveal_wait_s=20.0,
    )
    finished: dict[str, SignedRecord] = {}
    verdicts: dict[tuple[str, str], bool] = {}
    settlements: list[EpochSettled] = []
    nc = await nats.connect(nats_url)
    js = nc.jetstream()

    async def on_finished(msg: nats.aio.msg.Msg) -> None:
        record = parse_record(msg.data)
        finished[record.body["inference_id"]] = record
        # The rubber stamp: a pass for everything, without looking.
        stamp = ValidationVerdict(
            inference_id=record.body["inference_id"],
            epoch=record.body["epoch"],
            executor=record.body["executor"],
            validator=rubber_stamp.address,
            finished_hash=record.hash,
            passed=True,
            checks=CheckResults(structure_ok=True, replay_reported_ok=True),
        )
        signed = sign_event(stamp, rubber_stamp)
        await js.publish(verdict(rubber_stamp.address), signed.to_bytes())

    async def on_verdict(msg: nats.aio.msg.Msg) -> None:
        record = parse_record(msg.data)
        verdicts[(record.body["inference_id"], record.signer)] = record.body["passed"]

    async def on_settled(msg: nats.aio.msg.Msg) -> None:
        settlements.append(EpochSettled.model_validate(parse_record(msg.data).body))

    await nc.subscribe("attesta.records.inference.finished.*", cb=on_finished)
    await nc.subscribe("attesta.records.validation.verdict.*", cb=on_verdict)
    await nc.subscribe("attesta.records.epoch.settled", cb=on_settled)
    try:
        async with serve_gateway(gateway_settings) as url:
            pool = await create_pool(database_url, max_size=2)
            await create_account(pool, "canary", API_KEY, 1_000_000)
            await executor.start()
            await validator.start()
            await settler.start()
            headers = {"Authorization": f"Bearer {API_KEY}"}
            async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:

                async def serving() -> bool:
                    return bool((await client.get("/v1/models")).json()["data"])

                await _eventually(serving, "the executor's heartbeat", 30)
                real_ids = []
                for n in range(REAL_REQUESTS):
                    reply = await client.post(
                        "/v1/chat/completions",
                        json={
                            "model": "SmolLM2-135M-Instruct",
                            "max_tokens": 8,
                            "messages": [{"role": "user", "content": f"Count to {n + 3}."}],
                        },
                    )
                    assert reply.status_code == 200, reply.text
                    real_ids.append(reply.json()["id"])

            async def all_checked() -> bool:
                return len(finished) == 2 * REAL_REQUESTS and all(
                    (i, honest_validator.address) in verdicts for i in finished
                )

            await _eventually(all_checked, "canaries finished and checked", 60)

            async def settled() -> bool:
                return bool(settlements)

            await _eventually(settled, "the settlement of epoch 0", EPOCH_S + 40)
            reservations = await pool.fetch("SELECT * FROM reservations")
            await pool.close()
    finally:
        await settler.stop()
        await validator.stop()
        await executor.stop()
        await nc.close()

    secret = epoch_canary_secret(bytes.fromhex(canary_key.read_text()), 0)
    canaries = [i for i in finished if i not in real_ids]
    assert len(canaries) == REAL_REQUESTS
    # Only canaries carry the mark; they look like the real requests they copy.
    assert all(is_canary(secret, i) for i in canaries)
    assert not any(is_canary(secret, i) for i in real_ids)
    real = [finished[i].body["request"]["body"] for i in real_ids]
    for canary_id in canaries:
        request = finished[canary_id].body["request"]["body"]
        assert request["account"] == real[0]["account"]
        assert request["executor"] == canary_executor.address
        # Its escrow amount is its original's, though that one may have run on a spare
        # reservation (attesta_gateway.spares) holding more.
        (original,) = [r for r in real if r["messages"] == request["messages"]]
        assert request["reserved"] == original["reserved"]
        # Read through the same stream prefix as a real request to that executor.
        assert request["stream_prefix"] == original["stream_prefix"] is not None
    # No money moves for a canary: the only reservations not of a real request are the
    # account's spares (attesta_gateway.spares), given back whole.
    reserved = {r["inference_id"] for r in reservations}
    assert set(real_ids) <= reserved and not reserved & set(canaries)
    spares = [r for r in reservations if r["inference_id"] not in real_ids]
    assert all((r["state"], r["charged"]) == ("released", 0) for r in spares)
    # The model-running validator fails exactly the canaries.
    for inference_id in finished:
        expected = inference_id in real_ids
        assert verdicts[(inference_id, honest_validator.address)] is expected, inference_id

    [settlement] = settlements
    by = {p.address: p for p in settlement.participants}
    assert (settlement.inference_count, settlement.canaries) == (REAL_REQUESTS, REAL_REQUESTS)
    assert len(settlement.canary_reveals) == 1 and settlement.refunds == []
    worker = by[canary_executor.address]
    assert (worker.inferences, worker.valid, worker.canaries) == (REAL_REQUESTS,) * 3
    assert worker.slashed == 0
    assert APPROVED_CANARY in by[rubber_stamp.address].flags
    assert by[rubber_stamp.address].reward == 0
    assert APPROVED_CANARY not in by[honest_validator.address].flags
