"""The validator's ops endpoints against a real NATS JetStream: liveness, readiness, and the
check counters a real check moves."""

from __future__ import annotations

import httpx
import pytest
from attesta_common.genesis import Genesis
from attesta_common.subjects import inference_finished
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.reference import ReferenceEngine
from attesta_validator.main import Validator
from attesta_validator.settings import ValidatorSettings
from prometheus_client.parser import text_string_to_metric_families
from test_validator_service import eventually, honest_pair, jetstream, publish
from validator_records import Generations

pytestmark = pytest.mark.model


async def get(validator: Validator, path: str) -> httpx.Response:
    assert validator.ops_server is not None
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{validator.ops_server.port}") as http:
        return await http.get(path, timeout=5.0)


async def sample(validator: Validator, name: str, /, **labels: str) -> float:
    """The value of one sample in /metrics; 0 when it is not there yet."""
    response = await get(validator, "/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


async def test_health_and_metrics_of_a_real_check(
    nats_url: str,
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    engine: ReferenceEngine,
    generations: Generations,
) -> None:
    key = devnet_keys.validators[0]
    settings = ValidatorSettings(
        nats_url=nats_url, fetch_timeout_s=0.5, retry_delay_s=0.1, ops_port=0
    )
    # Without an engine, start() loads the reference model; until then readiness says so.
    unloaded = Validator(settings, genesis=genesis, key=key)
    assert unloaded.readiness() == (False, "engine not loaded; broker not connected")
    validator = Validator(settings, genesis=genesis, key=key, engine=engine)
    ready, detail = validator.readiness()
    assert not ready and detail == "broker not connected"
    async with jetstream(nats_url) as js:
        await validator.start()
        try:
            assert validator.ops_server is not None and validator.ops_server.port > 0
            assert (await get(validator, "/health/live")).status_code == 200
            response = await get(validator, "/health/ready")
            assert response.status_code == 200, response.text

            passed_before = await sample(
                validator, "attesta_validator_checks_total", result="passed"
            )
            durations_before = await sample(
                validator, "attesta_validator_check_duration_seconds_count"
            )
            honest = honest_pair(devnet_keys, generations, "inf-ops")
            await publish(js, inference_finished(devnet_keys.executors[0].address), honest)

            async def counted() -> bool:
                checks = await sample(validator, "attesta_validator_checks_total", result="passed")
                return checks == passed_before + 1

            await eventually(counted, "the passed check counted")
            durations = await sample(validator, "attesta_validator_check_duration_seconds_count")
            assert durations == durations_before + 1
        finally:
            await validator.stop()
    assert validator.ops_server is None
    assert validator.readiness()[0] is False
