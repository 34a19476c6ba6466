"""What happens to each request message: admitted or refused, acked or handed back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
from attesta_common.genesis import Genesis
from attesta_common.keys import SigningKey
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_executor.execution import Abandoned, Outcome
from attesta_executor.handlers import RequestHandler, consumer_config
from attesta_executor.outbox import PublishFailed
from attesta_executor.settings import ExecutorSettings
from prometheus_client import REGISTRY

MODEL = "SmolLM2-135M-Instruct"


def requests_counted(outcome: str) -> float:
    """attesta_executor_requests_total by outcome (the registry is process-global)."""
    return REGISTRY.get_sample_value("attesta_executor_requests_total", {"outcome": outcome}) or 0.0


class Message:
    def __init__(self, body: bytes) -> None:
        self.data = body
        self.outcome: tuple[str, float | None] | None = None

    async def ack(self) -> None:
        self.outcome = ("ack", None)

    async def nak(self, delay: float | None = None) -> None:
        self.outcome = ("nack", delay)

    async def in_progress(self) -> None:
        return None


class Execution:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.ran: list[str] = []

    async def run(self, record: SignedRecord, request: InferenceRequested) -> Outcome:
        self.ran.append(request.inference_id)
        if self.error is not None:
            raise self.error
        return "finished"


def signed(signer: SigningKey, executor: str, model: str = MODEL) -> bytes:
    now = int(time.time() * 1000)
    request = InferenceRequested(
        inference_id="inf_a",
        endpoint="chat",
        epoch=0,
        model=model,
        messages=[ChatMessage(role="user", content="hi")],
        sampling=SamplingParams(seed=1),
        account="acct_test",
        executor=executor,
        reserved=1000,
        requested_at_ms=now,
        deadline_ms=now + 60_000,
    )
    return sign_event(request, signer).to_bytes()


@pytest.fixture
def settings() -> ExecutorSettings:
    return ExecutorSettings(retry_delay_s=0.25)


def handler_for(
    genesis: Genesis, keys: DevnetKeys, settings: ExecutorSettings, execution: Any
) -> RequestHandler:
    handler = RequestHandler(genesis, keys.executors[0].address, MODEL, settings)
    handler.execution = execution
    return handler


async def test_refused_requests_are_acked_and_never_run(
    genesis: Genesis, devnet_keys: DevnetKeys, settings: ExecutorSettings
) -> None:
    execution = Execution()
    handler = handler_for(genesis, devnet_keys, settings, execution)
    me = devnet_keys.executors[0].address
    refused = [
        b"{}",
        signed(devnet_keys.executors[1], me),
        signed(devnet_keys.gateway, devnet_keys.executors[1].address),
        signed(devnet_keys.gateway, me, model="gpt-9"),
    ]
    rejected = requests_counted("rejected")
    for body in refused:
        message = Message(body)
        await handler.handle(message)  # type: ignore[arg-type]
        assert message.outcome == ("ack", None)
    assert execution.ran == []
    assert requests_counted("rejected") == rejected + len(refused)


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (None, ("ack", None)),
        (PublishFailed("broker down"), ("nack", 0.25)),
        (Abandoned("inf_a"), ("nack", 0.25)),
    ],
)
async def test_outcome_decides_the_ack(
    genesis: Genesis,
    devnet_keys: DevnetKeys,
    settings: ExecutorSettings,
    error: Exception | None,
    outcome: tuple[str, float | None],
) -> None:
    handler = handler_for(genesis, devnet_keys, settings, Execution(error))
    message = Message(signed(devnet_keys.gateway, devnet_keys.executors[0].address))
    finished = requests_counted("finished")
    await handler.handle(message)  # type: ignore[arg-type]
    assert message.outcome == outcome
    assert handler.in_flight == 0 and await handler.wait_idle(0)
    # Counted once answered; a request handed back to the stream is not an outcome yet.
    assert requests_counted("finished") == finished + (error is None)
    assert REGISTRY.get_sample_value("attesta_executor_in_flight") == 0


async def test_a_closing_executor_hands_requests_back(
    genesis: Genesis, devnet_keys: DevnetKeys, settings: ExecutorSettings
) -> None:
    execution = Execution()
    handler = handler_for(genesis, devnet_keys, settings, execution)
    handler.closing = True
    message = Message(signed(devnet_keys.gateway, devnet_keys.executors[0].address))
    await handler.handle(message)  # type: ignore[arg-type]
    # Away for longer than the standing pull request lives (2 s), or it would come
    # straight back to this closing executor.
    assert message.outcome == ("nack", settings.pull_expires_s + 1.0) and execution.ran == []


def test_consumer_is_durable_per_executor_and_bounded_by_capacity() -> None:
    config = consumer_config(ExecutorSettings(capacity=3), "attesta1abc")
    assert config.durable_name == "executor-attesta1abc"
    assert config.filter_subject == "attesta.records.inference.requested.attesta1abc"
    assert config.max_ack_pending == 3
