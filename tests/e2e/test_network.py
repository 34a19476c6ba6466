"""One real inference through the whole network with the official `openai` client:
answered, receipt signed, validated, anchored with a verifiable proof, settled and paid."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import nats
import pytest
from attesta_common.envelope import parse_record
from attesta_common.epochs import draw_executor, epoch_seed
from attesta_common.events import Receipt
from attesta_common.ledger_proof import InclusionProof, verify_proof
from attesta_common.receipts import receipt_signature_ok
from attesta_common.subjects import inference_requested
from attesta_devnet.network import Network
from openai import OpenAI

pytestmark = [pytest.mark.e2e, pytest.mark.model]
MODEL = "SmolLM2-135M-Instruct"


def _client(network: Network) -> OpenAI:
    return OpenAI(
        base_url=f"{network.gateway_url}/v1", api_key=network.config.dev_api_key, max_retries=0
    )


def _inference(network: Network, inference_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{network.gateway_url}/v1/inferences/{inference_id}",
        headers={"Authorization": f"Bearer {network.config.dev_api_key}"},
        timeout=10,
    )
    assert response.status_code in (200, 404), response.text
    return response.json() if response.status_code == 200 else {}


async def _candidates(network: Network, executor: str, inference_id: str) -> list[str]:
    """The live executors the gateway drew from, as its signed request names them."""
    nc = await nats.connect(network.nats_url)
    try:
        sub = await nc.jetstream().subscribe(inference_requested(executor), ordered_consumer=True)
        while True:
            record = parse_record((await sub.next_msg(timeout=10)).data)
            if record.body["inference_id"] == inference_id:
                return list(record.body["candidates"])
    finally:
        await nc.close()


def _wait_for(predicate: Any, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_chat_answer_is_received_validated_anchored_and_settled(network: Network) -> None:
    client = _client(network)
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Name a colour."}],
        max_tokens=12,
        seed=11,
    )
    assert reply.choices[0].message.content
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 12
    assert network.genesis is not None

    # The receipt is signed by the executor the public draw picks.
    view = _wait_for(lambda: _inference(network, reply.id).get("receipt"), 30, "the receipt")
    inference = _inference(network, reply.id)
    receipt = Receipt.model_validate(view)
    assert receipt_signature_ok(receipt)
    # Drawn among the executors live at that moment (a loaded machine may miss a
    # heartbeat), which the signed request names.
    candidates = asyncio.run(_candidates(network, inference["executor"], reply.id))
    executors = [
        (p.address, p.weight)
        for p in network.genesis.participants
        if p.weight and "executor" in p.roles and p.address in candidates
    ]
    assert executors
    drawn = draw_executor(epoch_seed(network.genesis, inference["epoch"]), reply.id, executors)
    assert receipt.executor == inference["executor"] == drawn

    # A new executor is checked by every validator; the honest answer passes.
    verdicts = _wait_for(
        lambda: (v := _inference(network, reply.id).get("verdicts")) and len(v) == 2 and v,
        60,
        "two verdicts",
    )
    assert all(v["passed"] for v in verdicts), verdicts

    # Anchored: the inclusion proof checks out offline against the signed block.
    anchor = _wait_for(lambda: _inference(network, reply.id).get("anchor"), 30, "the anchor")
    proof = InclusionProof.model_validate(anchor)
    assert verify_proof(proof, network.genesis) == []
    by_hash = httpx.get(f"{network.gateway_url}/v1/ledger/proofs/{proof.record_hash}", timeout=10)
    assert by_hash.status_code == 200 and by_hash.json()["merkle_root"] == proof.merkle_root

    # The epoch settles and pays the executor for the work.
    settlement = _wait_for(
        lambda: asyncio.run(_settlement(network.database_url, inference["epoch"])),
        60,
        "the epoch settlement",
    )
    paid = {p["address"]: p for p in settlement["body"]["participants"]}
    assert paid[receipt.executor]["valid"] >= 1
    assert paid[receipt.executor]["fees"] > 0 and paid[receipt.executor]["reward"] > 0


async def _settlement(database_url: str, epoch: int) -> dict[str, Any] | None:
    conn = await asyncpg.connect(database_url)
    try:
        record = await conn.fetchval("SELECT record FROM epoch_settlements WHERE epoch = $1", epoch)
    finally:
        await conn.close()
    if record is None:
        return None
    import json

    return json.loads(record) if isinstance(record, str) else dict(record)


def test_streaming_with_usage_and_seeded_reproducibility(network: Network) -> None:
    client = _client(network)
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Count to five."}],
        "max_tokens": 10,
        "seed": 1234,
        "temperature": 0.9,
    }
    stream = client.chat.completions.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    pieces, usage = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage is not None:
            usage = chunk.usage
    assert usage is not None and usage.completion_tokens > 0
    streamed = "".join(pieces)
    assert streamed
    again = client.chat.completions.create(**request)
    assert again.choices[0].message.content == streamed


def test_completions_endpoint_and_models(network: Network) -> None:
    client = _client(network)
    assert MODEL in [m.id for m in client.models.list().data]
    completion = client.completions.create(model=MODEL, prompt="The sky is", max_tokens=5)
    assert completion.choices[0].text
    assert completion.usage is not None and completion.usage.completion_tokens <= 5


def test_logprobs_only_when_asked(network: Network) -> None:
    client = _client(network)
    request: dict[str, Any] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Say yes."}],
        "max_tokens": 4,
        "seed": 3,
    }
    plain = client.chat.completions.create(**request)
    assert plain.choices[0].logprobs is None
    with_logprobs = client.chat.completions.create(**request, logprobs=True, top_logprobs=3)
    content = with_logprobs.choices[0].logprobs
    assert content is not None and content.content
    for token in content.content:
        assert token.logprob <= 0.0 and len(token.top_logprobs) == 3
        assert token.top_logprobs[0].logprob >= token.top_logprobs[-1].logprob
    # Logprobs are reported, not sampled: asking for them does not change the answer.
    assert with_logprobs.choices[0].message.content == plain.choices[0].message.content


def test_client_disconnect_mid_stream_keeps_the_inference(network: Network) -> None:
    client = _client(network)
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Tell a long story about a cat."}],
        max_tokens=24,
        stream=True,
    )
    first = next(iter(stream))
    stream.close()  # the client goes away after the first chunk
    inference_id = first.id
    finished = _wait_for(
        lambda: (
            _inference(network, inference_id).get("status") == "finished"
            and _inference(network, inference_id)
        ),
        60,
        "the abandoned inference to finish",
    )
    assert 0 < finished["usage"]["completion_tokens"] <= 24
    charged = _wait_for(
        lambda: asyncio.run(_reservation_state(network.database_url, inference_id)) == "charged",
        30,
        "the charge",
    )
    assert charged
    assert _wait_for(lambda: _inference(network, inference_id).get("anchor"), 30, "the anchor")


async def _reservation_state(database_url: str, inference_id: str) -> str | None:
    conn = await asyncpg.connect(database_url)
    try:
        state: str | None = await conn.fetchval(
            "SELECT state FROM reservations WHERE inference_id = $1", inference_id
        )
    finally:
        await conn.close()
    return state
