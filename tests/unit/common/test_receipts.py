"""Receipts bind every input and output of an inference to the executor's key."""

from __future__ import annotations

from attesta_common.artifact import TopKArtifact
from attesta_common.events import ChatMessage, InferenceRequested, Receipt, SamplingParams
from attesta_common.receipts import make_receipt, receipt_problems, receipt_signature_ok
from attesta_devnet.genesis_builder import DevnetKeys


def _request(executor: str) -> InferenceRequested:
    return InferenceRequested(
        inference_id="chatcmpl-1",
        endpoint="chat",
        epoch=0,
        model="SmolLM2-135M-Instruct",
        messages=[ChatMessage(role="user", content="hi")],
        sampling=SamplingParams(temperature=0.7, top_p=0.9, max_tokens=2, seed=5),
        account="acct",
        executor=executor,
        reserved=10,
        requested_at_ms=1,
        deadline_ms=2,
    )


def test_receipt_checks_out_and_any_change_is_named(devnet_keys: DevnetKeys) -> None:
    key = devnet_keys.executors[0]
    request = _request(key.address)
    artifact = TopKArtifact.build(5, [[1, 2, 3, 4, 5]] * 2, [[-0.1, -3, -4, -5, -6]] * 2)
    blob = artifact.encode()
    receipt = make_receipt(key, request, [1, 2, 3], [1, 2], artifact)
    assert receipt_signature_ok(receipt)
    assert receipt_problems(receipt, request, [1, 2, 3], [1, 2], blob) == []
    assert receipt_problems(receipt, request, [1, 2, 4], [1, 2], blob) == [
        "receipt prompt_hash does not match"
    ]
    assert "receipt output_hash does not match" in receipt_problems(
        receipt, request, [1, 2, 3], [2, 1], blob
    )
    forged = receipt.model_copy(update={"seed": 6})
    assert not receipt_signature_ok(forged)
    other = devnet_keys.executors[1]
    assert "receipt executor does not match" in receipt_problems(
        receipt, _request(other.address), [1, 2, 3], [1, 2], blob
    )


def test_a_built_receipt_is_what_validating_it_gives(devnet_keys: DevnetKeys) -> None:
    # make_receipt builds the model without validating it: validation must change nothing.
    key = devnet_keys.executors[0]
    artifact = TopKArtifact.build(3, [[7, 8, 9]] * 4, [[-0.5, -2, -3]] * 4)
    receipt = make_receipt(key, _request(key.address), [1, 2, 3], [4, 5, 6, 7], artifact)
    validated = Receipt.model_validate(receipt.model_dump())
    assert validated == receipt
    assert validated.model_dump(mode="json") == receipt.model_dump(mode="json")
    assert all(type(v) in (str, int) for v in receipt.model_dump().values())
