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

# An `end` is written as its own fields with the finished record's bytes spliced in last
# (`splice_record`): the record (a request, an artifact) is neither encoded again by the
# executor nor decoded and encoded again by the gateway (`split_record`).
_RECORD_FIELD = b',"record":'


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


def splice_record(event_json: bytes, record: bytes) -> bytes:
    """The JSON of an event (without a `record`) with `record` (a record's canonical bytes)
    as its last field."""
    if not event_json.endswith(b"}"):
        raise ValueError("not the JSON of an event")
    return event_json[:-1] + _RECORD_FIELD + record + b"}"


def split_record(data: bytes) -> tuple[bytes, bytes] | None:
    """The event without its record, and the record's bytes, of a message that could have
    been written by `splice_record`; None when it cannot. Nothing is checked here: whoever
    reads the parts must fall back to reading `data` whole when they are not an event and
    a record (an event encoded whole puts fields after its record)."""
    at = data.find(_RECORD_FIELD)
    # An event encoded whole has `"record":null` (every chunk): not split.
    if at < 0 or not data.endswith(b"}") or data[at + len(_RECORD_FIELD) : at + 11] != b"{":
        return None
    return data[:at] + b"}", data[at + len(_RECORD_FIELD) : -1]
