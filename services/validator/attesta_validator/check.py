"""One check of one finished inference: structure, prompt binding, replays, distance.

The cheap checks run first; the teacher-forced pass of the reference model (the only costly
step) runs only for a record that is structurally sound and replays exactly from its own
numbers, since anything else already fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from attesta_common.artifact import ArtifactError, TopKArtifact
from attesta_common.events import CheckResults, InferenceFinished, InferenceRequested
from attesta_common.genesis import ModelSpec
from attesta_engine.port import PositionScores

from attesta_validator import structure
from attesta_validator.distance import gonka_distance
from attesta_validator.replay import replay_own, replay_reported

# Verdicts are signed and deduplicated by hash: the distance goes out rounded so that the
# last bits of a float sum cannot make a redelivered record's verdict differ.
_DISTANCE_DIGITS = 6


class CheckingEngine(Protocol):
    """What a check needs from the reference engine (a subset of ReferenceEngine)."""

    eos_token_ids: frozenset[int]

    @property
    def vocab_size(self) -> int: ...

    def chat_prompt_ids(self, messages: Sequence[dict[str, str]]) -> list[int]: ...

    def text_prompt_ids(self, prompt: str) -> list[int]: ...

    def decode(self, token_ids: Sequence[int]) -> str: ...

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]: ...


def expected_prompt_ids(engine: CheckingEngine, request: InferenceRequested) -> list[int] | None:
    """The prompt tokens the request stands for, tokenized as an honest executor does."""
    if request.endpoint == "chat":
        if request.messages is None:
            return None
        return engine.chat_prompt_ids([m.model_dump(mode="json") for m in request.messages])
    if request.prompt is None:
        return None
    return engine.text_prompt_ids(request.prompt)


def _ends_generation(engine: CheckingEngine, token: int) -> bool:
    return token in engine.eos_token_ids


def _structure_problems(
    engine: CheckingEngine,
    model: ModelSpec,
    request: InferenceRequested,
    finished: InferenceFinished,
    artifact_bytes: bytes,
    artifact: TopKArtifact,
    signer_public_key: str | None,
) -> list[str]:
    output = finished.output_token_ids
    problems = [
        *structure.artifact_problems(artifact, model.top_k, output),
        *structure.usage_problems(finished),
        *structure.length_problems(finished, request, model),
        *structure.receipt_binding_problems(finished, request, artifact_bytes, signer_public_key),
    ]
    if request.model != model.name:
        problems.append(f"request is for model {request.model!r}, checked as {model.name!r}")
    if any(not 0 <= token < engine.vocab_size for token in output):
        # Such a token cannot be decoded or scored; nothing further about the output is
        # checkable.
        problems.append("output token id outside the model's vocabulary")
    elif output:
        if any(_ends_generation(engine, token) for token in output[:-1]):
            problems.append("generation ran past an end-of-sequence token")
        full_text = engine.decode(output)
        problems += structure.finish_problems(
            finished,
            request,
            model,
            full_text=full_text,
            text_before_last=engine.decode(output[:-1]),
            last_ends_generation=_ends_generation(engine, output[-1]),
        )
        problems += structure.text_problems(finished.text, full_text, request.sampling.stop)
    expected = expected_prompt_ids(engine, request)
    if expected is None:
        problems.append(f"{request.endpoint} request without its prompt")
    else:
        problems += structure.prompt_problems(expected, finished.prompt_token_ids)
    return problems


def check_inference(
    engine: CheckingEngine,
    model: ModelSpec,
    request: InferenceRequested,
    finished: InferenceFinished,
    *,
    signer_public_key: str | None = None,
) -> tuple[CheckResults, list[str]]:
    """Check one inference; `signer_public_key` is the key that signed the finished record.

    Returns the results and the human-readable reasons of every failure (empty if passed).
    """
    try:
        artifact_bytes, artifact = structure.decode_artifact(
            finished.artifact, len(finished.output_token_ids)
        )
    except ArtifactError as exc:
        reasons = [f"artifact does not decode: {exc}", "choices cannot be replayed"]
        return _results(False, False, model), reasons

    reasons = _structure_problems(
        engine, model, request, finished, artifact_bytes, artifact, signer_public_key
    )
    structure_ok = not reasons
    output = finished.output_token_ids
    replayable = artifact.positions == len(output) and all(
        token in ids for ids, token in zip(artifact.token_ids, output, strict=False)
    )
    if replayable:
        bad = replay_reported(artifact, output, request.sampling)
        reasons += structure.summarise_positions(
            "output token is not the choice from the reported top-k", bad
        )
        replay_reported_ok = not bad
    else:
        reasons.append("choices cannot be replayed from the artifact")
        replay_reported_ok = False
    if not (structure_ok and replay_reported_ok):
        return _results(structure_ok, replay_reported_ok, model), reasons

    scores = engine.score(finished.prompt_token_ids, output, artifact.token_ids)
    distance = round_distance(
        gonka_distance([s.lookup_logprobs for s in scores], artifact.logprobs)
    )
    if distance > model.distance_threshold:
        reasons.append(
            f"distance {distance:.3e} to the reference model exceeds {model.distance_threshold:.1e}"
        )
    own = replay_own(scores, output, request.sampling, model.replay_tolerance)
    reasons += structure.summarise_positions(
        "output token is not the reference model's choice", list(own.mismatches)
    )
    checks = CheckResults(
        structure_ok=True,
        replay_reported_ok=True,
        replay_own_ok=not own.mismatches,
        distance=distance,
        distance_threshold=model.distance_threshold,
        replay_mismatches=len(own.mismatches),
    )
    return checks, reasons


def passed(checks: CheckResults) -> bool:
    """Every check ran and held; a skipped check (None) is not a pass."""
    return (
        checks.structure_ok
        and checks.replay_reported_ok
        and checks.replay_own_ok is True
        and checks.distance is not None
        and checks.distance_threshold is not None
        and checks.distance <= checks.distance_threshold
    )


def round_distance(distance: float) -> float:
    return float(f"{distance:.{_DISTANCE_DIGITS}e}")


def _results(structure_ok: bool, replay_reported_ok: bool, model: ModelSpec) -> CheckResults:
    return CheckResults(
        structure_ok=structure_ok,
        replay_reported_ok=replay_reported_ok,
        distance_threshold=model.distance_threshold,
    )
