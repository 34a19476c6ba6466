"""The prompt the executor runs and the record it signs, checked as a validator would."""

from __future__ import annotations

import base64
import time

import pytest
from attesta_common.canary import epoch_canary_secret, executor_tag, spoil_tag
from attesta_common.envelope import read_record, sign_event
from attesta_common.events import (
    ChatMessage,
    InferenceFinished,
    InferenceRequested,
    SamplingParams,
)
from attesta_common.genesis import Genesis
from attesta_common.receipts import receipt_problems
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.port import GenerationSpec
from attesta_executor.records import TAG_LABEL, InvalidRequest, finished_record, prompt_token_ids
from executor_fakes import FakeEngine


def request(executor: str, **fields: object) -> InferenceRequested:
    now = int(time.time() * 1000)
    base: dict[str, object] = {
        "inference_id": "inf_1",
        "endpoint": "chat",
        "epoch": 0,
        "model": "SmolLM2-135M-Instruct",
        "messages": [ChatMessage(role="user", content="hi")],
        "sampling": SamplingParams(seed=5, max_tokens=4),
        "account": "acct_test",
        "executor": executor,
        "reserved": 1000,
        "requested_at_ms": now,
        "deadline_ms": now + 60_000,
    }
    return InferenceRequested.model_validate({**base, **fields})


def test_prompt_follows_the_endpoint() -> None:
    engine = FakeEngine()
    assert prompt_token_ids(engine, request("x")) == [1, 1]
    assert prompt_token_ids(engine, request("x", endpoint="completion", prompt="abc")) == [2] * 3


@pytest.mark.parametrize(
    "fields",
    [
        {"messages": None},
        {"messages": []},
        {"endpoint": "completion", "prompt": None},
        {"endpoint": "completion", "prompt": ""},
    ],
)
def test_requests_without_a_prompt_are_invalid(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest):
        prompt_token_ids(FakeEngine(), request("x", **fields))


def test_finished_record_opens_and_its_receipt_matches(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    key = devnet_keys.executors[0]
    asked = request(key.address)
    asked_record = sign_event(asked, devnet_keys.gateway)
    engine = FakeEngine()
    generation = engine.generate(GenerationSpec([1, 1], 0.9, 1.0, 4, 5))

    record = finished_record(key, asked_record, asked, generation)
    opened_record, finished = read_record(record.to_bytes(), genesis, InferenceFinished)
    assert opened_record == record
    assert finished.request_hash == asked_record.hash
    assert finished.request == asked_record.model_dump(mode="json")
    assert (finished.usage.prompt_tokens, finished.usage.completion_tokens) == (2, 4)
    problems = receipt_problems(
        finished.receipt,
        asked,
        finished.prompt_token_ids,
        finished.output_token_ids,
        base64.b64decode(finished.artifact),
    )
    assert problems == []
    # Deterministic signatures: the same generation signs to the same bytes.
    assert finished_record(key, asked_record, asked, generation).to_bytes() == record.to_bytes()
    # Built without validation (records.py): validating the body changes none of it.
    assert finished.model_dump(mode="json") == record.body


def test_every_record_carries_a_tag_only_its_executor_or_a_canary_executor_can_make(
    devnet_keys: DevnetKeys,
) -> None:
    key, other = devnet_keys.executors[0], devnet_keys.executors[1]
    asked = request(key.address)
    asked_record = sign_event(asked, devnet_keys.gateway)
    generation = FakeEngine().generate(GenerationSpec([1, 1], 0.9, 1.0, 4, 5))
    tag = InferenceFinished.model_validate(
        finished_record(key, asked_record, asked, generation).body
    ).tag
    assert tag is not None and len(tag) == 64
    assert tag == executor_tag(key.derived_secret(TAG_LABEL), asked_record.hash)  # per request
    assert tag != executor_tag(other.derived_secret(TAG_LABEL), asked_record.hash)  # per key
    spoiled = spoil_tag(epoch_canary_secret(b"c" * 32, 0), asked.inference_id)
    marked = finished_record(key, asked_record, asked, generation, tag=spoiled)
    assert InferenceFinished.model_validate(marked.body).tag == spoiled
