"""The bench's executor and validator sides: signed records in, real verdicts out.

Records are built and signed the way an honest executor does (`make_receipt`,
`sign_event`); verdicts come from the validator's own admission and `check_inference`
with the reference engine. `Harness.run` drives the bench decode loop over any weights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from attesta_common.artifact import TopKArtifact
from attesta_common.envelope import SignedRecord, sign_event
from attesta_common.events import InferenceFinished, InferenceRequested, Usage
from attesta_common.genesis import ModelSpec
from attesta_common.receipts import make_receipt
from attesta_devnet.genesis_builder import DevnetKeys, build_genesis
from attesta_engine.loader import load_reference_engine
from attesta_engine.reference import ReferenceEngine
from attesta_validator.admission import admit_finished
from attesta_validator.check import CheckingEngine, check_inference, passed

from bench.detection.decode import Run, Sampling, decode
from bench.detection.variants import VariantPool
from bench.detection.workload import MODEL_NAME, Sample, chat_dicts, make_request


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reasons: list[str]
    seconds: float
    distance: float | None  # None when a cheaper check already failed
    structure_ok: bool = True  # False: a rule (artifact, usage, length, prompt, receipt) broke


@dataclass(frozen=True)
class Request:
    record: SignedRecord
    body: InferenceRequested
    prompt_ids: list[int]
    sample: Sample


class Harness:
    def __init__(
        self, engine: ReferenceEngine | None = None, threads: int = 2, top_k: int | None = None
    ) -> None:
        """`top_k`: the ranks the artifact reports (default: genesis' default)."""
        self.model = (
            ModelSpec(name=MODEL_NAME) if top_k is None else ModelSpec(name=MODEL_NAME, top_k=top_k)
        )
        self.threads = threads
        self.engine = engine or load_reference_engine(self.model, threads=threads)
        self.keys = DevnetKeys.generate(executors=1, validators=1)
        self.genesis = build_genesis(self.keys)
        self.executor = self.keys.executors[0]
        self.variants = VariantPool(self.engine._model)

    def request(self, sample: Sample) -> Request:
        record = make_request(self.keys.gateway, self.executor.address, sample)
        body = InferenceRequested.model_validate(record.body)
        prompt = self.engine.chat_prompt_ids(chat_dicts(sample.messages))
        return Request(record, body, prompt, sample)

    def run(
        self,
        model: Any,
        prompt_ids: Sequence[int],
        sampling: Sampling,
        max_tokens: int,
        *,
        first_position: int = 0,
    ) -> Run:
        """One sequence through the bench decode loop (`model` None: the reference weights)."""
        weights = self.engine._model if model is None else model
        return decode(
            weights,
            [prompt_ids],
            [sampling],
            max_tokens,
            self.engine.eos_token_ids,
            top_k=self.model.top_k,
            first_position=first_position,
        )[0]

    def finish(
        self,
        request: Request,
        run: Run,
        *,
        prompt_ids: Sequence[int] | None = None,
        finish_reason: str | None = None,
        completion_tokens: int | None = None,
        artifact: TopKArtifact | None = None,
    ) -> SignedRecord:
        """The finished record an executor signs for `run`; a cheat overrides one part."""
        prompt = list(request.prompt_ids if prompt_ids is None else prompt_ids)
        table = artifact or TopKArtifact.build(self.model.top_k, run.ids, run.logprobs)
        ends = bool(run.tokens) and run.tokens[-1] in self.engine.eos_token_ids
        finished = InferenceFinished(
            inference_id=request.body.inference_id,
            epoch=request.body.epoch,
            executor=self.executor.address,
            request_hash=request.record.hash,
            request=request.record.model_dump(mode="json"),
            prompt_token_ids=prompt,
            output_token_ids=list(run.tokens),
            text=self.engine.decode(run.tokens),
            finish_reason=finish_reason or ("stop" if ends else "length"),  # type: ignore[arg-type]
            usage=Usage(
                prompt_tokens=len(prompt),
                completion_tokens=len(run.tokens)
                if completion_tokens is None
                else completion_tokens,
            ),
            artifact=table.encode_b64(),
            receipt=make_receipt(self.executor, request.body, prompt, run.tokens, table),
        )
        return sign_event(finished, self.executor)

    def check(self, record: SignedRecord, engine: CheckingEngine | None = None) -> Verdict:
        """What a validator concludes: admission, then the full check (on `engine`, by
        default the reference engine)."""
        started = time.perf_counter()
        admitted = admit_finished(record.to_bytes(), self.genesis)
        checks, reasons = check_inference(
            engine or self.engine,
            self.model,
            admitted.request,
            admitted.finished,
            signer_public_key=admitted.record.public_key,
        )
        elapsed = time.perf_counter() - started
        return Verdict(passed(checks), reasons, elapsed, checks.distance, checks.structure_ok)


def sampling_of(sample: Sample) -> Sampling:
    return Sampling(sample.temperature, sample.top_p, sample.seed)
