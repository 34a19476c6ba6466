"""Messages of the token stream from an executor to the gateway (core NATS, ephemeral).

The durable truth is the signed `InferenceFinished` record; the stream only carries tokens
to the waiting client as they are made, then the `end` with that record. An `end` with
`stored` false was sent while JetStream was still storing the record (the request asked
for it with `end_before_stored`); a `stored` event follows once JetStream has it, and only
then may the client hear the answer.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from attesta_common.events import Usage


class TopLogprob(BaseModel):
    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    bytes: list[int]


class TokenLogprob(BaseModel):
    """One generated token in OpenAI's `logprobs.content[]` shape."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    bytes: list[int]
    top_logprobs: list[TopLogprob]


class StreamEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["chunk", "end", "stored", "error"]
    inference_id: str
    index: int = 0
    text: str = ""
    token_ids: list[int] = []
    logprobs: list[TokenLogprob] | None = None
    finish_reason: Literal["stop", "length"] | None = None
    usage: Usage | None = None
    record: dict[str, Any] | None = None
    # Of an `end`: whether JetStream had acknowledged the record when it was sent. Added in
    # v1 with a default: older executors send `end` only after the ack.
    stored: bool = True
    code: str | None = None
    message: str | None = None
