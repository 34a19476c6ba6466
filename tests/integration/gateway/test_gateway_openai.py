"""The official openai client against the gateway: chat, streaming, completions, draw."""

from __future__ import annotations

from attesta_common.epochs import draw_executor, epoch_seed
from attesta_common.pricing import inference_cost
from gateway_fakes import PROMPT_TOKENS, TOKENS
from gateway_harness import Gateway, StartGateway
from openai import AsyncOpenAI


def _openai(gateway: Gateway, api_key: str) -> AsyncOpenAI:
    # No retries: every status under test must reach the test as it was answered.
    return AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=api_key, max_retries=0)


async def test_chat_completion_is_charged_and_the_draw_is_rederivable(
    start_gateway: StartGateway,
) -> None:
    gateway = await start_gateway()
    api_key, account = await gateway.new_key(balance=100_000)
    client = _openai(gateway, api_key)

    response = await client.chat.completions.create(
        model=gateway.model,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        max_tokens=50,
        seed=7,
    )

    assert response.id.startswith("chatcmpl-") and len(response.id) == len("chatcmpl-") + 32
    assert response.object == "chat.completion"
    assert response.choices[0].message.role == "assistant"
    assert response.choices[0].message.content == "".join(TOKENS)
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].logprobs is None
    assert response.usage is not None
    assert response.usage.prompt_tokens == PROMPT_TOKENS
    assert response.usage.completion_tokens == len(TOKENS)

    # Exactly one executor got it: the one anyone can re-derive from the epoch seed.
    receivers = [e for e in gateway.executors if e.received]
    assert len(receivers) == 1
    record, request = receivers[0].received[0]
    assert request.inference_id == response.id
    assert request.sampling.seed == 7 and request.sampling.max_tokens == 50
    assert record.signer == gateway.keys.gateway.address
    candidates = [(e.address, gateway.genesis.weight(e.address)) for e in gateway.executors]
    expected = draw_executor(epoch_seed(gateway.genesis, request.epoch), response.id, candidates)
    assert receivers[0].address == expected == request.executor
    # ... and from the signed record alone: it names the live candidates.
    assert sorted(request.candidates) == sorted(e.address for e in gateway.executors)
    from_record = [(a, gateway.genesis.weight(a)) for a in request.candidates]
    assert draw_executor(epoch_seed(gateway.genesis, request.epoch), response.id, from_record) == (
        request.executor
    )

    # The reservation is charged at the actual usage, the rest refunded.
    cost = inference_cost(gateway.genesis, PROMPT_TOKENS, len(TOKENS))
    row = await gateway.wait_reservation(response.id, "charged")
    assert row["charged"] == cost and row["account_id"] == account
    assert row["reserved"] == request.reserved
    assert await gateway.balance(account) == 100_000 - cost


async def test_chat_stream_with_usage(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key()
    client = _openai(gateway, api_key)

    stream = await client.chat.completions.create(
        model=gateway.model,
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]

    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "".join(TOKENS)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == len(TOKENS)
    await gateway.wait_reservation(chunks[0].id, "charged")


async def test_chat_logprobs(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key()
    client = _openai(gateway, api_key)

    response = await client.chat.completions.create(
        model=gateway.model,
        messages=[{"role": "user", "content": "Hi"}],
        logprobs=True,
        top_logprobs=2,
    )

    logprobs = response.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert [t.token for t in logprobs.content] == TOKENS
    assert all(len(t.top_logprobs) == 2 for t in logprobs.content)
    receiver = next(e for e in gateway.executors if e.received)
    assert receiver.received[0][1].logprobs is True
    assert receiver.received[0][1].top_logprobs == 2
    # Not streamed, but the log-probs travel in the chunks: the executor must send them.
    assert receiver.received[0][1].stream_chunks is True


async def test_only_a_streamed_answer_asks_for_every_chunk(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key()
    client = _openai(gateway, api_key)
    messages = [{"role": "user", "content": "Hi"}]

    whole = await client.chat.completions.create(model=gateway.model, messages=messages)
    assert whole.choices[0].message.content == "".join(TOKENS)
    streamed = await client.chat.completions.create(
        model=gateway.model, messages=messages, stream=True
    )
    assert "".join([c.choices[0].delta.content or "" async for c in streamed if c.choices])
    asked = {r.inference_id: r for e in gateway.executors for _, r in e.received}
    assert asked[whole.id].stream_chunks is False
    assert [r.stream_chunks for i, r in asked.items() if i != whole.id] == [True]


async def test_completions(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key()
    client = _openai(gateway, api_key)

    response = await client.completions.create(
        model=gateway.model, prompt="Once upon a time", max_tokens=2, logprobs=1
    )
    assert response.id.startswith("cmpl-")
    assert response.object == "text_completion"
    assert response.choices[0].text == "".join(TOKENS[:2])
    assert response.choices[0].finish_reason == "length"
    assert response.choices[0].logprobs is not None
    assert response.choices[0].logprobs.tokens == TOKENS[:2]
    assert response.choices[0].logprobs.text_offset == [0, len(TOKENS[0])]
    receiver = next(e for e in gateway.executors if e.received)
    request = receiver.received[0][1]
    assert request.endpoint == "completion" and request.prompt == "Once upon a time"
    assert request.messages is None

    stream = await client.completions.create(
        model=gateway.model,
        prompt=["Once upon a time"],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "".join(TOKENS)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens == PROMPT_TOKENS


async def test_models_lists_what_live_executors_serve(start_gateway: StartGateway) -> None:
    gateway = await start_gateway()
    api_key, _ = await gateway.new_key()
    models = await _openai(gateway, api_key).models.list()
    assert [m.id for m in models.data] == [gateway.model]
