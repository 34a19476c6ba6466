"""One admitted request, from its prompt tokens to the `InferenceFinished` and `end`.

Every outcome the client must hear about is published before the request is acked: the
finished record and `end`, or a signed `InferenceFailed` and `error`. Only a broker that
does not take them (`PublishFailed`) or a shutdown (`Abandoned`) leaves the request
unanswered, to be redelivered.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial
from typing import Any, Literal

from attesta_common.envelope import SignedRecord
from attesta_common.events import InferenceRequested
from attesta_common.genesis import ModelSpec
from attesta_common.keys import SigningKey
from attesta_common.metrics import EXECUTOR_TOKENS
from attesta_common.spans import child_span
from attesta_engine.port import Generation, GenerationCancelled, GenerationSpec, TokenStep
from opentelemetry import trace
from opentelemetry.trace import Tracer

from attesta_executor.canary import CanarySpoiler
from attesta_executor.chunks import ChunkStream
from attesta_executor.engine_runner import EngineRunner
from attesta_executor.outbox import Outbox, PublishFailed
from attesta_executor.recent import RecentRecords
from attesta_executor.records import (
    InvalidRequest,
    finished_record,
    prompt_chars,
    prompt_token_ids,
)

log = logging.getLogger(__name__)


# What the client heard: the finished record, or a signed InferenceFailed.
Outcome = Literal["finished", "failed"]


class Abandoned(Exception):
    """The executor is shutting down and gave the generation up; it will be redelivered."""


def _request_attributes(request: InferenceRequested, prompt_tokens: int) -> dict[str, Any]:
    """OpenTelemetry gen_ai semantic-convention attributes of one generation."""
    sampling = request.sampling
    return {
        "attesta.inference_id": request.inference_id,
        "gen_ai.system": "attesta",
        "gen_ai.operation.name": "chat" if request.endpoint == "chat" else "text_completion",
        "gen_ai.request.model": request.model,
        "gen_ai.request.temperature": sampling.temperature,
        "gen_ai.request.top_p": sampling.top_p,
        "gen_ai.request.max_tokens": sampling.max_tokens,
        "gen_ai.request.seed": sampling.seed,
        "gen_ai.usage.input_tokens": prompt_tokens,
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


class Execution:
    def __init__(
        self,
        *,
        key: SigningKey,
        model: ModelSpec,
        runner: EngineRunner,
        outbox: Outbox,
        recent: RecentRecords,
        abandon: threading.Event,
        tracer: Tracer | None = None,
        canaries: CanarySpoiler | None = None,
    ) -> None:
        self._tracer = tracer or trace.get_tracer(__name__)
        self._key = key
        self._model = model
        self._runner = runner
        self._outbox = outbox
        self._recent = recent
        self._abandon = abandon
        self._canaries = canaries
        self._tokens = EXECUTOR_TOKENS.labels(executor=key.address, model=model.name)

    async def run(self, request_record: SignedRecord, request: InferenceRequested) -> Outcome:
        """Generate and publish the outcome; which one went out is returned."""
        known = self._recent.get(request_record.hash)
        if known is not None:
            log.info("%s was finished already: publishing its record again", request.inference_id)
            await self._outbox.deliver(request, known)
            return "finished"
        if _now_ms() > request.deadline_ms:
            return await self._fail(
                request_record, request, "deadline_exceeded", "past the deadline"
            )
        engine = self._runner.engine
        try:
            prompt = await self._runner.tokenize(
                partial(prompt_token_ids, engine, request), prompt_chars(request)
            )
        except InvalidRequest as exc:
            return await self._fail(request_record, request, "invalid_request", str(exc))
        except Exception as exc:
            log.exception("tokenizer failed on %s", request.inference_id)
            return await self._fail(request_record, request, "engine_error", repr(exc))
        total = len(prompt) + request.sampling.max_tokens
        if total > self._model.max_context_tokens:
            message = (
                f"{len(prompt)} prompt tokens + max_tokens {request.sampling.max_tokens}"
                f" > {self._model.max_context_tokens} context tokens of {self._model.name}"
            )
            return await self._fail(request_record, request, "context_length_exceeded", message)
        try:
            with child_span(self._tracer, "executor.generate") as span:
                if span.is_recording():
                    span.set_attributes(_request_attributes(request, len(prompt)))
                generation = await self._generate(request, prompt)
                tag = None
                if self._canaries is not None and self._canaries.is_canary(request):
                    generation = self._canaries.spoil(generation, request.sampling)
                    tag = self._canaries.tag(request)
                span.set_attribute("gen_ai.usage.output_tokens", len(generation.output_token_ids))
                span.set_attribute("gen_ai.response.finish_reasons", [generation.finish_reason])
            record = finished_record(self._key, request_record, request, generation, tag=tag)
        except GenerationCancelled:
            if self._abandon.is_set():
                raise Abandoned(request.inference_id) from None
            return await self._fail(request_record, request, "deadline_exceeded", "deadline passed")
        except PublishFailed:
            raise
        except Exception as exc:
            # Answered and acked like any other outcome: a request that breaks the engine
            # must not come back forever.
            log.exception("engine failed on %s", request.inference_id)
            return await self._fail(request_record, request, "engine_error", repr(exc))
        self._recent.put(request_record.hash, record)
        await self._outbox.deliver(request, record)
        return "finished"

    async def _generate(self, request: InferenceRequested, prompt: list[int]) -> Generation:
        sampling = request.sampling
        spec = GenerationSpec(
            prompt_token_ids=prompt,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            seed=sampling.seed,
            stop=list(sampling.stop),
            # Not streamed: the client gets the whole text, from the record.
            step_text=request.stream_chunks,
        )
        chunks = ChunkStream(self._outbox, request, self._runner.engine.token_text)

        abandon = self._abandon
        deadline_s = request.deadline_ms / 1000

        def should_stop() -> bool:
            # Past the deadline the gateway has answered 504: the work would be wasted.
            # (Asked at every token: no conversion to milliseconds each time.)
            return abandon.is_set() or time.time() > deadline_s

        started = time.perf_counter()

        async def on_steps(steps: list[TokenStep], last: bool) -> None:
            if steps[0].position == 0:
                trace.get_current_span().set_attribute(
                    "attesta.time_to_first_token_s", time.perf_counter() - started
                )
            self._tokens.inc(len(steps))
            await chunks.steps(steps, last=last)

        generation = await self._runner.generate(spec, on_steps, should_stop)
        await chunks.finish(generation.text)
        return generation

    async def _fail(
        self, request_record: SignedRecord, request: InferenceRequested, code: str, message: str
    ) -> Outcome:
        log.warning("%s failed (%s): %s", request.inference_id, code, message)
        await self._outbox.failed(request_record, request, code, message)
        return "failed"
