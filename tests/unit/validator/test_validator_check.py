"""check_inference against the real reference model: honest work passes, each cheat fails."""

from __future__ import annotations

import base64

import pytest
from attesta_common.artifact import TopKArtifact
from attesta_common.canonical import canonical_json
from attesta_common.envelope import SignedRecord
from attesta_common.events import CheckResults
from attesta_common.keys import SigningKey
from attesta_common.receipts import make_receipt
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.reference import ReferenceEngine
from attesta_validator.check import check_inference, passed
from validator_records import (
    MAX_TOKENS,
    MESSAGES,
    MODEL,
    NEWLINE_STOP,
    SAMPLED_SEED,
    SAMPLED_TEMPERATURE,
    SAMPLED_TOP_P,
    SHORT_ANSWER,
    Generations,
    finished_of,
    launder,
    make_finished,
    make_request,
    request_of,
)

pytestmark = pytest.mark.model


def run_check(
    engine: ReferenceEngine, request: SignedRecord, finished: SignedRecord
) -> tuple[CheckResults, list[str]]:
    return check_inference(
        engine,
        MODEL,
        request_of(request),
        finished_of(finished),
        signer_public_key=finished.public_key,
    )


def greedy_request(keys: DevnetKeys, **overrides: object) -> SignedRecord:
    params: dict[str, object] = {"temperature": 0.0, "top_p": 1.0, "seed": 11} | overrides
    return make_request(keys.gateway, keys.executors[0].address, **params)  # type: ignore[arg-type]


def sampled_request(keys: DevnetKeys, **overrides: object) -> SignedRecord:
    params: dict[str, object] = {
        "temperature": SAMPLED_TEMPERATURE,
        "top_p": SAMPLED_TOP_P,
        "seed": SAMPLED_SEED,
    } | overrides
    return make_request(keys.gateway, keys.executors[0].address, **params)  # type: ignore[arg-type]


def assert_clean_pass(checks: CheckResults, reasons: list[str]) -> None:
    assert reasons == []
    assert passed(checks)
    assert checks.structure_ok and checks.replay_reported_ok and checks.replay_own_ok
    assert checks.replay_mismatches == 0
    assert checks.distance is not None and checks.distance < MODEL.distance_threshold


def test_honest_greedy_passes(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = greedy_request(devnet_keys)
    finished = make_finished(devnet_keys.executors[0], request, generations.greedy)
    assert_clean_pass(*run_check(engine, request, finished))


def test_honest_sampled_passes(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    assert generations.sampled.output_token_ids != generations.greedy.output_token_ids
    request = sampled_request(devnet_keys)
    finished = make_finished(devnet_keys.executors[0], request, generations.sampled)
    assert_clean_pass(*run_check(engine, request, finished))


def test_honest_stops_pass(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    by_string = generations.until_newline
    assert by_string.finish_reason == "stop" and "\n" not in by_string.text
    request = greedy_request(devnet_keys, stop=NEWLINE_STOP)
    finished = make_finished(devnet_keys.executors[0], request, by_string)
    assert_clean_pass(*run_check(engine, request, finished))

    by_eos = generations.short_answer
    assert by_eos.finish_reason == "stop" and len(by_eos.output_token_ids) < MAX_TOKENS
    request = greedy_request(devnet_keys, messages=SHORT_ANSWER)
    finished = make_finished(devnet_keys.executors[0], request, by_eos)
    assert_clean_pass(*run_check(engine, request, finished))


def test_running_past_a_stop_sequence_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # The honest 'length' output contains the newline: billing past the requested stop.
    request = greedy_request(devnet_keys, stop=NEWLINE_STOP)
    honest = generations.greedy
    assert "\n" in honest.text
    finished = make_finished(devnet_keys.executors[0], request, honest)
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert "a stop sequence appears before the last token: generation ran on" in reasons


def test_running_past_an_end_of_sequence_token_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # Billing tokens after the model said it was done: the honest EOS answer, padded on.
    honest = generations.short_answer
    assert honest.output_token_ids[-1] in engine.eos_token_ids
    padded = [*honest.output_token_ids, *generations.greedy.output_token_ids[:3]]
    request = greedy_request(devnet_keys, messages=SHORT_ANSWER)
    finished = make_finished(
        devnet_keys.executors[0],
        request,
        honest,
        output_ids=padded,
        text=engine.decode(padded),
        finish_reason="length",
    )
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert "generation ran past an end-of-sequence token" in reasons


def test_swapped_token_fails_replay(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    position = 5
    output = list(honest.output_token_ids)
    output[position] = next(t for t in honest.artifact.token_ids[position] if t != output[position])
    finished = make_finished(
        devnet_keys.executors[0],
        request,
        honest,
        output_ids=output,
        text=engine.decode(output),
    )
    checks, reasons = run_check(engine, request, finished)
    assert checks.structure_ok
    assert not checks.replay_reported_ok
    assert not passed(checks)
    assert any("position 5" in r for r in reasons)


def test_perturbed_logprobs_fail_on_distance(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    honest = generations.sampled
    # A uniform shift keeps the order, the normalisation bound and every sampled choice
    # (softmax ignores it): only the comparison with the model's own numbers sees it.
    shifted = TopKArtifact.build(
        MODEL.top_k,
        honest.artifact.token_ids,
        [[lp - 0.01 for lp in row] for row in honest.artifact.logprobs],
    )
    request = sampled_request(devnet_keys)
    finished = make_finished(devnet_keys.executors[0], request, honest, artifact=shifted)
    checks, reasons = run_check(engine, request, finished)
    assert checks.structure_ok and checks.replay_reported_ok
    assert checks.distance is not None and checks.distance > MODEL.distance_threshold
    assert not passed(checks)
    assert any("distance" in r for r in reasons)


def test_greedy_output_claimed_as_sampled_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # A cheaper (greedy) run passed off as the requested sampled one.
    request = sampled_request(devnet_keys)
    finished = make_finished(devnet_keys.executors[0], request, generations.greedy)
    checks, _ = run_check(engine, request, finished)
    assert checks.structure_ok
    assert not checks.replay_reported_ok
    assert not passed(checks)


def test_laundered_artifact_fails_own_replay(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # Tokens chosen elsewhere (greedily), with an artifact of the model's true numbers
    # picked so that every choice replays: only the validator's own replay catches it.
    request = sampled_request(devnet_keys)
    greedy = generations.greedy
    forged = launder(engine, greedy.prompt_token_ids, greedy.output_token_ids, request_of(request))
    finished = make_finished(devnet_keys.executors[0], request, greedy, artifact=forged)
    checks, reasons = run_check(engine, request, finished)
    assert checks.structure_ok and checks.replay_reported_ok
    assert checks.distance is not None and checks.distance < MODEL.distance_threshold
    assert checks.replay_own_ok is False
    assert checks.replay_mismatches > 0
    assert not passed(checks)
    assert any("reference model's choice" in r for r in reasons)


def test_dropped_system_prompt_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = greedy_request(devnet_keys, max_tokens=16)
    assert len(MESSAGES) == 2
    finished = make_finished(devnet_keys.executors[0], request, generations.without_system)
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert checks.distance is None and checks.replay_own_ok is None
    assert any("different prompt" in r for r in reasons)


def test_ignored_seed_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # The executor sampled with a seed of its own, not the request's.
    request = sampled_request(devnet_keys, seed=SAMPLED_SEED + 1)
    finished = make_finished(devnet_keys.executors[0], request, generations.sampled)
    checks, _ = run_check(engine, request, finished)
    assert checks.structure_ok
    assert not checks.replay_reported_ok
    assert not passed(checks)


def test_forged_receipt_signature_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    executor = devnet_keys.executors[0]
    receipt = make_receipt(
        executor,
        request_of(request),
        honest.prompt_token_ids,
        honest.output_token_ids,
        honest.artifact,
    )
    forged_signature = SigningKey.generate().sign(canonical_json(receipt.signed_fields()))
    finished = make_finished(
        executor,
        request,
        honest,
        receipt=receipt.model_copy(update={"signature": forged_signature}),
    )
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert "bad receipt signature" in reasons


def test_receipt_by_another_key_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    other = devnet_keys.executors[1]
    receipt = make_receipt(
        other,
        request_of(request),
        honest.prompt_token_ids,
        honest.output_token_ids,
        honest.artifact,
    )
    finished = make_finished(devnet_keys.executors[0], request, honest, receipt=receipt)
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert "receipt key is not the key that signed the finished record" in reasons


def test_truncated_artifact_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    blob = honest.artifact.encode()
    truncated = base64.b64encode(blob[: len(blob) // 2]).decode("ascii")
    finished = make_finished(devnet_keys.executors[0], request, honest, artifact_b64=truncated)
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok and not checks.replay_reported_ok
    assert reasons[0].startswith("artifact does not decode")


def test_output_cut_short_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    # Stopping early to save compute, calling it a natural stop.
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    assert honest.finish_reason == "length"
    kept = 10
    cut = TopKArtifact.build(
        MODEL.top_k, honest.artifact.token_ids[:kept], honest.artifact.logprobs[:kept]
    )
    output = honest.output_token_ids[:kept]
    finished = make_finished(
        devnet_keys.executors[0],
        request,
        honest,
        output_ids=output,
        artifact=cut,
        text=engine.decode(output),
        finish_reason="stop",
    )
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert any("finish_reason 'stop'" in r for r in reasons)


def test_altered_text_fails(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    finished = make_finished(
        devnet_keys.executors[0], request, generations.sampled, text="something else entirely"
    )
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok
    assert "text is not the decoded output tokens" in reasons


def test_token_outside_the_vocabulary_fails_without_scoring(
    engine: ReferenceEngine, generations: Generations, devnet_keys: DevnetKeys
) -> None:
    request = sampled_request(devnet_keys)
    honest = generations.sampled
    position, alien = 3, 10**8
    output = list(honest.output_token_ids)
    rows = [list(row) for row in honest.artifact.token_ids]
    rows[position][rows[position].index(output[position])] = alien
    output[position] = alien
    artifact = TopKArtifact.build(MODEL.top_k, rows, honest.artifact.logprobs)
    finished = make_finished(
        devnet_keys.executors[0], request, honest, output_ids=output, artifact=artifact
    )
    checks, reasons = run_check(engine, request, finished)
    assert not checks.structure_ok and checks.distance is None
    assert "output token id outside the model's vocabulary" in reasons
