"""The token stream's `end`: the finished record's bytes spliced into the event's JSON, and
split off again, exactly."""

from __future__ import annotations

import json

import pytest
from attesta_common.canonical import canonical_json
from attesta_common.events import Usage
from attesta_common.stream import StreamEvent, splice_record, split_record

RECORD = canonical_json({"body": {"text": 'a ,"record": b}'}, "kind": "InferenceFinished"})


def _end(**fields: object) -> StreamEvent:
    usage = Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5)
    return StreamEvent(type="end", inference_id="chatcmpl-1", usage=usage, **fields)  # type: ignore[arg-type]


def test_a_spliced_end_reads_as_the_event_with_its_record() -> None:
    head = _end(stored=False).model_dump_json(exclude={"record"}).encode()
    message = splice_record(head, RECORD)

    whole = StreamEvent.model_validate_json(message)
    assert whole == _end(stored=False, record=json.loads(RECORD))
    assert split_record(message) == (head, RECORD)


@pytest.mark.parametrize(
    "event",
    [
        # Encoded whole (every chunk, `stored` and `error` event): `"record":null`.
        _end().model_dump_json().encode(),
        StreamEvent(type="stored", inference_id="chatcmpl-1").model_dump_json().encode(),
        b'{"type":"end","record":{"a":1},"stored":false}'[:-1],
        b"not json",
    ],
)
def test_only_a_record_object_last_can_be_split(event: bytes) -> None:
    assert split_record(event) is None


def test_an_end_encoded_whole_splits_into_parts_that_are_not_a_record() -> None:
    """As older executors send it: fields follow the record, so the reader, finding no
    record in the second part, reads the message whole."""
    whole = _end(record=json.loads(RECORD)).model_dump_json().encode()
    parts = split_record(whole)
    assert parts is not None
    with pytest.raises(ValueError):
        json.loads(parts[1])  # the record, then `,"stored":true,...`


def test_splice_refuses_what_is_not_an_object() -> None:
    with pytest.raises(ValueError):
        splice_record(b"[1]", RECORD)
