"""What chat and text completions share: model lookup, limits, sampling, SSE framing."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

from attesta_common.events import SamplingParams
from attesta_common.genesis import ModelSpec
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from attesta_gateway.accounts import Account
from attesta_gateway.collection import Inference
from attesta_gateway.context import GatewayContext
from attesta_gateway.dispatch import Dispatcher, InferenceJob
from attesta_gateway.errors import OpenAIError
from attesta_gateway.protocol import AttestaInfo, SamplingRequest

SSE_DONE = "data: [DONE]\n\n"


def sse(payload: BaseModel | dict[str, object]) -> str:
    if isinstance(payload, BaseModel):
        data = payload.model_dump_json()
    else:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return f"data: {data}\n\n"


class OpenAIServing:
    def __init__(self, ctx: GatewayContext, dispatcher: Dispatcher) -> None:
        self.ctx = ctx
        self.dispatcher = dispatcher

    def resolve_model(self, name: str) -> ModelSpec:
        model = self.ctx.genesis.model(name)
        if model is None:
            raise OpenAIError(
                404, f"the model {name!r} does not exist", param="model", code="model_not_found"
            )
        return model

    @staticmethod
    def refuse_unsupported(request: SamplingRequest) -> None:
        """Parameters whose effect the network cannot reproduce: refused, never ignored."""
        if request.n not in (None, 1):
            raise OpenAIError(400, "only n=1 is supported", param="n", code="unsupported_value")
        for name in ("presence_penalty", "frequency_penalty"):
            if getattr(request, name) not in (None, 0, 0.0):
                raise OpenAIError(
                    400,
                    f"{name} is not supported: verifiable sampling replays the model's raw "
                    "distribution, so only 0 is accepted",
                    param=name,
                    code="unsupported_value",
                )

    @staticmethod
    def sampling(
        request: SamplingRequest,
        model: ModelSpec,
        prompt_bound: int,
        requested_max_tokens: int | None,
        default_max_tokens: int,
    ) -> SamplingParams:
        """Sampling parameters with max_tokens resolved against the model's limits."""
        room = model.max_context_tokens - prompt_bound
        if room < 1:
            raise OpenAIError(
                400,
                f"the prompt may take up to {prompt_bound} tokens; the model's context is "
                f"{model.max_context_tokens} tokens",
                param="messages",
                code="context_length_exceeded",
            )
        if requested_max_tokens is None:
            max_tokens = min(default_max_tokens, model.max_output_tokens, room)
        elif requested_max_tokens > model.max_output_tokens:
            raise OpenAIError(
                400,
                f"max_tokens is {requested_max_tokens}; {model.name} produces at most "
                f"{model.max_output_tokens} tokens",
                param="max_tokens",
                code="invalid_value",
            )
        elif requested_max_tokens > room:
            raise OpenAIError(
                400,
                f"the prompt may take up to {prompt_bound} tokens and max_tokens is "
                f"{requested_max_tokens}; the model's context is {model.max_context_tokens}",
                param="max_tokens",
                code="context_length_exceeded",
            )
        else:
            max_tokens = requested_max_tokens
        return SamplingParams(
            temperature=1.0 if request.temperature is None else request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            max_tokens=max_tokens,
            # Fixed here when the client sends none: the record carries it, so anyone can
            # replay the sampling.
            seed=secrets.randbits(63) if request.seed is None else request.seed,
            stop=request.stop_list(),
        )

    async def submit(self, account: Account, job: InferenceJob, id_prefix: str) -> Inference:
        return await self.dispatcher.submit(account, job, id_prefix)

    @staticmethod
    def attesta_info(inference: Inference, finished_hash: str | None) -> AttestaInfo:
        return AttestaInfo(
            inference_id=inference.inference_id,
            executor=inference.executor,
            epoch=inference.epoch,
            seed=inference.seed,
            request_hash=inference.request_hash,
            finished_hash=finished_hash,
        )

    @staticmethod
    def headers(inference: Inference) -> dict[str, str]:
        return {
            "x-attesta-inference-id": inference.inference_id,
            "x-attesta-executor": inference.executor,
        }

    def json_response(self, body: BaseModel, inference: Inference) -> Response:
        # Serialised by pydantic straight to JSON bytes (not to a dict, then by json.dumps).
        return Response(
            body.model_dump_json(),
            media_type="application/json",
            headers=self.headers(inference),
        )

    def event_stream(self, inference: Inference, body: AsyncIterator[str]) -> StreamingResponse:
        headers = self.headers(inference)
        # Proxies must not buffer the stream; clients must not cache it.
        headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return StreamingResponse(body, media_type="text/event-stream", headers=headers)
