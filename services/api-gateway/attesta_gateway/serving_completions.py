"""POST /v1/completions: one text completion, collected or streamed as SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from attesta_common.pricing import prompt_token_bound
from attesta_common.stream import StreamEvent, TokenLogprob
from fastapi.responses import Response

from attesta_gateway.accounts import Account
from attesta_gateway.collection import Completed, Inference
from attesta_gateway.dispatch import InferenceJob
from attesta_gateway.errors import OpenAIError
from attesta_gateway.protocol import (
    CompletionChoice,
    CompletionRequest,
    CompletionResponse,
    UsageInfo,
)
from attesta_gateway.serving_chat import usage_info
from attesta_gateway.serving_engine import SSE_DONE, OpenAIServing, sse


def completion_logprobs(tokens: list[TokenLogprob], top: int, offset: int) -> dict[str, Any]:
    """The legacy completions logprobs shape; `offset` is where these tokens' text starts."""
    text_offset = []
    for token in tokens:
        text_offset.append(offset)
        offset += len(token.token)
    return {
        "tokens": [token.token for token in tokens],
        "token_logprobs": [token.logprob for token in tokens],
        "top_logprobs": [
            {alt.token: alt.logprob for alt in token.top_logprobs[:top]} for token in tokens
        ],
        "text_offset": text_offset,
    }


class OpenAIServingCompletion(OpenAIServing):
    async def create(self, request: CompletionRequest, account: Account) -> Response:
        model = self.resolve_model(request.model)
        self.refuse_unsupported(request)
        if request.echo:
            raise OpenAIError(400, "echo is not supported", param="echo", code="unsupported_value")
        prompts = [request.prompt] if isinstance(request.prompt, str) else request.prompt
        if len(prompts) != 1:
            raise OpenAIError(400, "exactly one prompt per request is supported", param="prompt")
        top = request.logprobs
        if top is not None and top > model.top_k:
            raise OpenAIError(
                400,
                f"logprobs is at most {model.top_k} for {model.name}",
                param="logprobs",
                code="invalid_value",
            )
        prompt = prompts[0]
        bound = prompt_token_bound(len(prompt.encode("utf-8")), 0)
        sampling = self.sampling(request, model, bound, request.max_tokens, 16)
        job = InferenceJob(
            endpoint="completion",
            model=model,
            sampling=sampling,
            prompt_bound=bound,
            prompt=prompt,
            logprobs=top is not None,
            top_logprobs=top or 0,
            stream=bool(request.stream),
        )
        inference = await self.submit(account, job, "cmpl")
        if request.stream:
            return self.event_stream(inference, self._stream(request, inference, top))
        return await self._collect(request, inference, top)

    async def _collect(
        self, request: CompletionRequest, inference: Inference, top: int | None
    ) -> Response:
        tokens: list[TokenLogprob] = []
        async for item in inference.outcomes():
            if isinstance(item, StreamEvent):
                tokens.extend(item.logprobs or ())
            elif isinstance(item, Completed):
                finished = item.finished
                response = CompletionResponse(
                    id=inference.inference_id,
                    created=inference.created,
                    model=request.model,
                    choices=[
                        CompletionChoice(
                            text=finished.text,
                            logprobs=None if top is None else completion_logprobs(tokens, top, 0),
                            finish_reason=finished.finish_reason,
                        )
                    ],
                    usage=usage_info(finished.usage),
                    attesta=self.attesta_info(inference, item.record_hash),
                )
                return self.json_response(response, inference)
            else:
                return item.error.response()
        raise AssertionError("outcomes ended without a result")

    async def _stream(
        self, request: CompletionRequest, inference: Inference, top: int | None
    ) -> AsyncIterator[str]:
        def chunk(choices: list[CompletionChoice], usage: UsageInfo | None = None) -> str:
            return sse(
                CompletionResponse(
                    id=inference.inference_id,
                    created=inference.created,
                    model=request.model,
                    choices=choices,
                    usage=usage,
                ).model_dump(mode="json", exclude={"attesta"})
            )

        offset = 0
        async for item in inference.outcomes():
            if isinstance(item, StreamEvent):
                logprobs = None
                if top is not None and item.logprobs is not None:
                    logprobs = completion_logprobs(item.logprobs, top, offset)
                offset += len(item.text)
                choice = CompletionChoice(text=item.text, logprobs=logprobs, finish_reason=None)
                yield chunk([choice])
            elif isinstance(item, Completed):
                finish = item.finished.finish_reason
                yield chunk([CompletionChoice(text="", finish_reason=finish)])
                if request.include_usage():
                    yield chunk([], usage_info(item.finished.usage))
            else:
                yield sse(item.error.body())
        yield SSE_DONE
