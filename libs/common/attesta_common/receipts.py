"""The executor's signed receipt: how it is made and how anyone checks it.

A receipt binds the inference id, the exact prompt tokens, the sampling parameters and
seed, the output tokens and the artifact to the executor's key, so a client holding only
the receipt and the texts can prove what the executor vouched for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attesta_common.artifact import TopKArtifact
from attesta_common.canonical import canonical_json, content_hash, sha256_hex
from attesta_common.events import InferenceRequested, Receipt, SamplingParams
from attesta_common.keys import SigningKey, address_of, verify


def prompt_hash(prompt_token_ids: Sequence[int]) -> str:
    return content_hash(list(prompt_token_ids))


def sampling_hash(sampling: SamplingParams) -> str:
    return content_hash(sampling.model_dump(mode="json"))


def output_hash(output_token_ids: Sequence[int]) -> str:
    return content_hash(list(output_token_ids))


def make_receipt(
    key: SigningKey,
    request: InferenceRequested,
    prompt_token_ids: Sequence[int],
    output_token_ids: Sequence[int],
    artifact: TopKArtifact,
) -> Receipt:
    fields: dict[str, Any] = {
        "inference_id": request.inference_id,
        "executor": key.address,
        "model": request.model,
        "prompt_hash": prompt_hash(prompt_token_ids),
        "sampling_hash": sampling_hash(request.sampling),
        "seed": request.sampling.seed,
        "output_hash": output_hash(output_token_ids),
        "artifact_hash": artifact.digest(),
        "prompt_tokens": len(prompt_token_ids),
        "completion_tokens": len(output_token_ids),
        "public_key": key.public_key_hex,
    }
    # Built, not validated: every field is the executor's own value of the declared type
    # (tests/unit/common/test_receipts.py checks that validating changes nothing), and
    # the signed fields are exactly `Receipt.signed_fields()` of the result.
    signature = key.sign(canonical_json(fields))
    return Receipt.model_construct(**fields, signature=signature)


def receipt_signature_ok(receipt: Receipt) -> bool:
    return address_of(receipt.public_key) == receipt.executor and verify(
        receipt.public_key, canonical_json(receipt.signed_fields()), receipt.signature
    )


def receipt_problems(
    receipt: Receipt,
    request: InferenceRequested,
    prompt_token_ids: Sequence[int],
    output_token_ids: Sequence[int],
    artifact_bytes: bytes,
) -> list[str]:
    """Every way the receipt disagrees with the request and the reported output."""
    expected = {
        "inference_id": request.inference_id,
        "executor": request.executor,
        "model": request.model,
        "prompt_hash": prompt_hash(prompt_token_ids),
        "sampling_hash": sampling_hash(request.sampling),
        "seed": request.sampling.seed,
        "output_hash": output_hash(output_token_ids),
        # Over the bytes as transmitted: a re-encoding could differ across zlib versions.
        "artifact_hash": sha256_hex(artifact_bytes),
        "prompt_tokens": len(prompt_token_ids),
        "completion_tokens": len(output_token_ids),
    }
    problems = [
        f"receipt {name} does not match"
        for name, value in expected.items()
        if getattr(receipt, name) != value
    ]
    if not receipt_signature_ok(receipt):
        problems.append("bad receipt signature")
    return problems
