"""The `chunk` events of one inference: one per burst of generated tokens (one token
while the engine is slower than the stream), in order, then whatever text the engine
still held back when it stopped.

Concatenated, the chunk texts equal the text of the signed record. A request that is not
streamed (`stream_chunks` false: the client waits for the whole answer, without
log-probs) gets only the first chunk, which tells the gateway that generation started;
the answer itself comes with the `end`. When the first burst is also the last (a short
answer, a fast engine), not even that: the `end` follows at once.
"""

from __future__ import annotations

from attesta_common.events import InferenceRequested
from attesta_common.stream import StreamEvent
from attesta_engine.port import TokenStep

from attesta_executor.logprobs import TokenText, token_logprob
from attesta_executor.outbox import Outbox


class ChunkStream:
    def __init__(self, outbox: Outbox, request: InferenceRequested, token_text: TokenText) -> None:
        self._outbox = outbox
        self._request = request
        self._token_text = token_text
        self._streamed = 0
        self._tokens = 0

    async def steps(self, steps: list[TokenStep], *, last: bool = False) -> None:
        """One burst; `last` when the generation has ended with it."""
        if not self._request.stream_chunks and (self._tokens or last):
            self._tokens += len(steps)
            return
        logprobs = None
        if self._request.logprobs:
            top = self._request.top_logprobs
            logprobs = [token_logprob(step, top, self._token_text) for step in steps]
        text = "".join(step.text_delta for step in steps)
        await self._outbox.event(
            self._request,
            StreamEvent(
                type="chunk",
                inference_id=self._request.inference_id,
                index=steps[0].position,
                text=text,
                token_ids=[step.token_id for step in steps],
                logprobs=logprobs,
            ),
        )
        self._streamed += len(text)
        self._tokens += len(steps)

    async def finish(self, text: str) -> None:
        """At max_tokens the engine may still hold back a possible stop-sequence prefix or
        an incomplete character; the record has the whole text, so the stream gets it too."""
        tail = text[self._streamed :]
        if tail and self._request.stream_chunks:
            await self._outbox.event(
                self._request,
                StreamEvent(
                    type="chunk",
                    inference_id=self._request.inference_id,
                    index=self._tokens,
                    text=tail,
                ),
            )
            self._streamed += len(tail)
