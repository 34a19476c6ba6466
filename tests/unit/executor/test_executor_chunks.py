"""Chunk events: one per burst of steps, logprobs only on request, the held-back tail at
the end."""

from __future__ import annotations

from typing import Any

from attesta_common.events import ChatMessage, InferenceRequested, SamplingParams
from attesta_common.stream import StreamEvent
from attesta_engine.port import TokenStep
from attesta_executor.chunks import ChunkStream
from executor_fakes import TOP_IDS, TOP_LOGPROBS, VOCAB


class Sink:
    def __init__(self) -> None:
        self.events: list[StreamEvent] = []

    async def event(self, request: InferenceRequested, event: StreamEvent) -> None:
        assert request.inference_id == event.inference_id
        self.events.append(event)


def request(**fields: Any) -> InferenceRequested:
    return InferenceRequested(
        inference_id="inf_c",
        endpoint="chat",
        epoch=0,
        model="m",
        messages=[ChatMessage(role="user", content="hi")],
        sampling=SamplingParams(seed=1),
        account="a",
        executor="e",
        reserved=1,
        requested_at_ms=0,
        deadline_ms=1,
        **fields,
    )


async def stream(asked: InferenceRequested, deltas: list[str], text: str) -> list[StreamEvent]:
    sink = Sink()
    chunks = ChunkStream(sink, asked, VOCAB.__getitem__)  # type: ignore[arg-type]
    for position, delta in enumerate(deltas):
        await chunks.steps([TokenStep(position, 1, TOP_IDS, TOP_LOGPROBS, delta)])
    await chunks.finish(text)
    return sink.events


async def test_one_chunk_per_token_without_logprobs_by_default() -> None:
    events = await stream(request(), ["a", "", "b"], "ab")
    assert [(e.index, e.text, e.token_ids) for e in events] == [
        (0, "a", [1]),
        (1, "", [1]),
        (2, "b", [1]),
    ]
    assert all(e.type == "chunk" and e.logprobs is None for e in events)


async def test_a_burst_of_steps_is_one_chunk_with_every_token() -> None:
    sink = Sink()
    chunks = ChunkStream(sink, request(logprobs=True, top_logprobs=1), VOCAB.__getitem__)  # type: ignore[arg-type]
    burst = [TokenStep(p, 1, TOP_IDS, TOP_LOGPROBS, d) for p, d in enumerate(["a", "b", "c"])]
    await chunks.steps(burst[:1])
    await chunks.steps(burst[1:])
    await chunks.finish("abc")
    assert [(e.index, e.text, e.token_ids) for e in sink.events] == [
        (0, "a", [1]),
        (1, "bc", [1, 1]),
    ]
    assert [len(e.logprobs or []) for e in sink.events] == [1, 2]


async def test_logprobs_when_asked() -> None:
    events = await stream(request(logprobs=True, top_logprobs=2), ["a"], "a")
    assert events[0].logprobs is not None
    assert events[0].logprobs[0].logprob == TOP_LOGPROBS[0]
    assert len(events[0].logprobs[0].top_logprobs) == 2


async def test_text_held_back_at_the_end_is_sent_last() -> None:
    events = await stream(request(), ["a", ""], "a\n")
    assert "".join(e.text for e in events) == "a\n"
    assert (events[-1].index, events[-1].text, events[-1].token_ids) == (2, "\n", [])


async def test_an_answer_nobody_streams_and_done_in_one_burst_gets_no_chunk() -> None:
    sink = Sink()
    chunks = ChunkStream(sink, request(stream_chunks=False), VOCAB.__getitem__)  # type: ignore[arg-type]
    burst = [TokenStep(p, 1, TOP_IDS, TOP_LOGPROBS, d) for p, d in enumerate("abc")]
    await chunks.steps(burst, last=True)
    await chunks.finish("abcd")
    # The `end` follows at once; a streamed answer still gets its chunks.
    assert sink.events == []
    streamed = ChunkStream(sink, request(), VOCAB.__getitem__)  # type: ignore[arg-type]
    await streamed.steps(burst, last=True)
    assert [(e.index, e.text) for e in sink.events] == [(0, "abc")]


async def test_an_answer_nobody_streams_gets_only_its_first_chunk() -> None:
    events = await stream(request(stream_chunks=False), ["a", "b", "c"], "abcd")
    # The first says generation started; the text comes with the signed record in `end`.
    assert [(e.index, e.text, e.token_ids) for e in events] == [(0, "a", [1])]
