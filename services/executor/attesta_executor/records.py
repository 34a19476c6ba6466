"""The executor's own records: the prompt it ran and the signed `InferenceFinished`."""

from __future__ import annotations

import base64

from attesta_common.canary import executor_tag
from attesta_common.canonical import sha256_hex
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import InferenceFinished, InferenceRequested, Usage
from attesta_common.keys import SigningKey
from attesta_common.receipts import make_receipt
from attesta_engine.port import Engine, Generation

TAG_LABEL = "attesta-executor-tag-v1"


class InvalidRequest(ValueError):
    """A signed request that still cannot be run as it stands."""


def prompt_chars(request: InferenceRequested) -> int:
    """How much prompt text a request carries (what tokenizing it costs grows with)."""
    if request.messages:
        return sum(len(m.content) for m in request.messages)
    return len(request.prompt or "")


def prompt_token_ids(engine: Engine, request: InferenceRequested) -> list[int]:
    """The prompt exactly as validators will re-tokenize it: the model's chat template
    for `chat`, the bare text for `completion`."""
    if request.endpoint == "chat":
        if not request.messages:
            raise InvalidRequest("a chat request needs at least one message")
        ids = engine.chat_prompt_ids([m.model_dump() for m in request.messages])
    else:
        if request.prompt is None:
            raise InvalidRequest("a completion request needs a prompt")
        ids = engine.text_prompt_ids(request.prompt)
    if not ids:
        raise InvalidRequest("the prompt has no tokens")
    return ids


def finished_record(
    key: SigningKey,
    request_record: SignedRecord,
    request: InferenceRequested,
    generation: Generation,
    *,
    tag: str | None = None,
) -> SignedRecord:
    """Sign the receipt and the record for a completed generation.

    `tag`: a canary executor's spoil tag; by default the executor's own tag for this
    request (attesta_common.canary).

    The artifact is encoded once and those bytes travel in the record: the receipt's hash
    must be over exactly them (make_receipt hashes its own encoding, so the two are
    compared rather than assumed equal). Signatures are deterministic (RFC 6979), so
    regenerating the same request yields the same bytes, which JetStream deduplicates.
    """
    artifact_bytes = generation.artifact.encode()
    receipt = make_receipt(
        key,
        request,
        generation.prompt_token_ids,
        generation.output_token_ids,
        generation.artifact,
    )
    if receipt.artifact_hash != sha256_hex(artifact_bytes):
        raise RuntimeError("the artifact does not encode to the bytes its receipt names")
    # Built, not validated: the executor's own values of the declared types, as in
    # make_receipt (tests/unit/executor/test_executor_records.py validates one and compares).
    event = InferenceFinished.model_construct(
        inference_id=request.inference_id,
        epoch=request.epoch,
        executor=key.address,
        request_hash=request_record.hash,
        request=request_record.model_dump(mode="json"),
        prompt_token_ids=generation.prompt_token_ids,
        output_token_ids=generation.output_token_ids,
        text=generation.text,
        finish_reason=generation.finish_reason,
        usage=Usage.model_construct(
            prompt_tokens=len(generation.prompt_token_ids),
            completion_tokens=len(generation.output_token_ids),
        ),
        artifact=base64.b64encode(artifact_bytes).decode("ascii"),
        receipt=receipt,
        tag=tag or executor_tag(key.derived_secret(TAG_LABEL), request_record.hash),
    )
    return sign_event(event, key)
