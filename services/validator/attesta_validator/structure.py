"""Structural checks of a finished inference: pure functions from the record to problems.

Each function returns human-readable problems (empty when all is well). They run before any
model computation: a record that fails here is invalid work whatever the model says, and
the costly teacher-forced pass is skipped.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import math
from collections.abc import Sequence

from attesta_common.artifact import ArtifactError, TopKArtifact
from attesta_common.events import InferenceFinished, InferenceRequested
from attesta_common.genesis import ModelSpec
from attesta_common.receipts import receipt_problems
from attesta_engine.text_stream import stop_index

# Raw log-probabilities are <= 0; float32 rounding of log_softmax can land a hair above.
LOGPROB_CEILING = 1e-6
# The reported top-k mass cannot exceed 1 beyond float32 rounding.
MASS_SLACK = 1e-4
# Per-position problems are summarised after this many, so a broken artifact of 512
# positions does not produce a verdict of 512 reasons.
_MAX_LISTED = 3


def decode_artifact(encoded: str, max_positions: int) -> tuple[bytes, TopKArtifact]:
    """The artifact bytes as transmitted (the receipt hashes those) and their table, which
    may not claim more positions than the record has output tokens (so hostile bytes
    cannot make a validator inflate a bomb)."""
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ArtifactError(f"artifact is not base64: {exc}") from exc
    return blob, TopKArtifact.decode(blob, max_positions)


def summarise_positions(what: str, positions: Sequence[int]) -> list[str]:
    if not positions:
        return []
    listed = ", ".join(str(p) for p in positions[:_MAX_LISTED])
    more = f" and {len(positions) - _MAX_LISTED} more" if len(positions) > _MAX_LISTED else ""
    return [f"{what} at position {listed}{more}"]


def _row_problems(ids: Sequence[int], logprobs: Sequence[float], token: int) -> list[str]:
    problems = []
    if len(set(ids)) != len(ids):
        problems.append("top-k ids repeat")
    if not all(math.isfinite(lp) and lp <= LOGPROB_CEILING for lp in logprobs):
        problems.append("top-k log-probabilities are not finite and <= 0")
    elif any(later > earlier for earlier, later in itertools.pairwise(logprobs)):
        problems.append("top-k log-probabilities are not in descending order")
    elif math.fsum(math.exp(lp) for lp in logprobs) > 1.0 + MASS_SLACK:
        problems.append("top-k probabilities sum above 1")
    if token not in ids:
        problems.append("output token is not in the reported top-k")
    return problems


def artifact_problems(artifact: TopKArtifact, top_k: int, output_ids: Sequence[int]) -> list[str]:
    if artifact.k != top_k:
        return [f"artifact k is {artifact.k}, the model's top_k is {top_k}"]
    if artifact.positions != len(output_ids):
        return [f"artifact has {artifact.positions} positions for {len(output_ids)} output tokens"]
    by_problem: dict[str, list[int]] = {}
    for position, (ids, logprobs, token) in enumerate(
        zip(artifact.token_ids, artifact.logprobs, output_ids, strict=True)
    ):
        for problem in _row_problems(ids, logprobs, token):
            by_problem.setdefault(problem, []).append(position)
    problems = []
    for problem, positions in by_problem.items():
        problems.extend(summarise_positions(problem, positions))
    return problems


def usage_problems(finished: InferenceFinished) -> list[str]:
    problems = []
    if finished.usage.prompt_tokens != len(finished.prompt_token_ids):
        problems.append("usage.prompt_tokens does not count the prompt tokens")
    if finished.usage.completion_tokens != len(finished.output_token_ids):
        problems.append("usage.completion_tokens does not count the output tokens")
    return problems


def length_problems(
    finished: InferenceFinished, request: InferenceRequested, model: ModelSpec
) -> list[str]:
    produced = len(finished.output_token_ids)
    problems = []
    if produced == 0:
        problems.append("no output token")
    if produced > request.sampling.max_tokens:
        problems.append(f"{produced} output tokens exceed max_tokens {request.sampling.max_tokens}")
    if len(finished.prompt_token_ids) + produced > model.max_context_tokens:
        problems.append("prompt and output exceed the model's context")
    return problems


def finish_problems(
    finished: InferenceFinished,
    request: InferenceRequested,
    model: ModelSpec,
    *,
    full_text: str,
    text_before_last: str,
    last_ends_generation: bool,
) -> list[str]:
    """Did generation stop exactly where, and for the reason, the record says?

    `full_text` is the decoded output, `text_before_last` the decoded output without its
    last token, `last_ends_generation` whether the last token is an end-of-sequence token.
    """
    stops = request.sampling.stop
    produced = len(finished.output_token_ids)
    problems = []
    if stop_index(text_before_last, stops) is not None:
        problems.append("a stop sequence appears before the last token: generation ran on")
    stopped_by_text = stop_index(full_text, stops) is not None
    if finished.finish_reason == "stop":
        if not (last_ends_generation or stopped_by_text):
            problems.append("finish_reason 'stop' without an end token or a stop sequence")
    else:
        # The engine ends at max_tokens; a request near the context limit ends when the
        # context is full.
        context_full = len(finished.prompt_token_ids) + produced >= model.max_context_tokens
        if produced != request.sampling.max_tokens and not context_full:
            problems.append(
                f"finish_reason 'length' after {produced} of {request.sampling.max_tokens} tokens"
            )
        if stopped_by_text:
            problems.append("finish_reason 'length' although a stop sequence was produced")
    return problems


def text_problems(reported_text: str, full_text: str, stops: Sequence[str]) -> list[str]:
    """The text returned to the client must be the decoded output, cut at the first stop."""
    cut = stop_index(full_text, stops)
    expected = full_text if cut is None else full_text[:cut]
    return [] if reported_text == expected else ["text is not the decoded output tokens"]


def prompt_problems(expected_ids: Sequence[int], reported_ids: Sequence[int]) -> list[str]:
    if list(expected_ids) == list(reported_ids):
        return []
    return ["prompt tokens are not the request's prompt: the executor ran a different prompt"]


def receipt_binding_problems(
    finished: InferenceFinished,
    request: InferenceRequested,
    artifact_bytes: bytes,
    signer_public_key: str | None,
) -> list[str]:
    problems = receipt_problems(
        finished.receipt,
        request,
        finished.prompt_token_ids,
        finished.output_token_ids,
        artifact_bytes,
    )
    if signer_public_key is not None and finished.receipt.public_key != signer_public_key:
        problems.append("receipt key is not the key that signed the finished record")
    return problems
