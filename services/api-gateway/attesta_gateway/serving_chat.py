"""POST /v1/chat/completions: one chat inference, collected or streamed as SSE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from attesta_common.events import ChatMessage, Usage
from attesta_common.pricing import prompt_token_bound
from attesta_common.stream import StreamEvent, TokenLogprob
from fastapi.responses import Response

from attesta_gateway.accounts import Account
from attesta_gateway.collection import Completed, Inference
from attesta_gateway.dispatch import InferenceJob
from attesta_gateway.errors import OpenAIError
from attesta_gateway.protocol import (
    ChatChoice,
    ChatChunkChoice,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatMessageOut,
    DeltaMessage,
    FinishReason,
    UsageInfo,
)
from attesta_gateway.serving_engine import SSE_DONE, OpenAIServing, sse


def usage_info(usage: Usage) -> UsageInfo:
    return UsageInfo(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def chat_logprobs(tokens: list[TokenLogprob], top: int) -> dict[str, Any]:
    """OpenAI's `logprobs.content`, with exactly `top` alternatives per token."""
    content = []
    for token in tokens:
        entry = token.model_dump(mode="json")
        entry["top_logprobs"] = entry["top_logprobs"][:top]
        content.append(entry)
    return {"content": content}


class OpenAIServingChat(OpenAIServing):
    async def create(self, request: ChatCompletionRequest, account: Account) -> Response:
        model = self.resolve_model(request.model)
        self.refuse_unsupported(request)
        top = request.top_logprobs or 0
        if top and not request.logprobs:
            raise OpenAIError(400, "top_logprobs requires logprobs=true", param="top_logprobs")
        if top > model.top_k:
            raise OpenAIError(
                400,
                f"top_logprobs is at most {model.top_k} for {model.name}",
                param="top_logprobs",
                code="invalid_value",
            )
        try:
            messages = [ChatMessage(role=m.role, content=m.text()) for m in request.messages]
        except ValueError as exc:
            raise OpenAIError(400, str(exc), param="messages", code="invalid_value") from exc
        text_bytes = sum(len(m.content.encode("utf-8")) for m in messages)
        bound = prompt_token_bound(text_bytes, len(messages))
        sampling = self.sampling(
            request, model, bound, request.requested_max_tokens(), model.max_output_tokens
        )
        job = InferenceJob(
            endpoint="chat",
            model=model,
            sampling=sampling,
            prompt_bound=bound,
            messages=messages,
            logprobs=request.logprobs,
            top_logprobs=top,
            stream=bool(request.stream),
        )
        inference = await self.submit(account, job, "chatcmpl")
        if request.stream:
            return self.event_stream(inference, self._stream(request, inference, top))
        return await self._collect(request, inference, top)

    async def _collect(
        self, request: ChatCompletionRequest, inference: Inference, top: int
    ) -> Response:
        tokens: list[TokenLogprob] = []
        async for item in inference.outcomes():
            if isinstance(item, StreamEvent):
                tokens.extend(item.logprobs or ())
            elif isinstance(item, Completed):
                finished = item.finished
                response = ChatCompletionResponse(
                    id=inference.inference_id,
                    created=inference.created,
                    model=request.model,
                    choices=[
                        ChatChoice(
                            # The signed text, not the relayed chunks, is what was paid for.
                            message=ChatMessageOut(content=finished.text),
                            logprobs=chat_logprobs(tokens, top) if request.logprobs else None,
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
        self, request: ChatCompletionRequest, inference: Inference, top: int
    ) -> AsyncIterator[str]:
        def chunk(
            delta: DeltaMessage,
            logprobs: dict[str, Any] | None = None,
            finish_reason: FinishReason | None = None,
        ) -> str:
            choice = ChatChunkChoice(delta=delta, logprobs=logprobs, finish_reason=finish_reason)
            return sse(
                ChatCompletionChunk(
                    id=inference.inference_id,
                    created=inference.created,
                    model=request.model,
                    choices=[choice],
                )
            )

        yield chunk(DeltaMessage(role="assistant", content=""))
        async for item in inference.outcomes():
            if isinstance(item, StreamEvent):
                logprobs = None
                if request.logprobs and item.logprobs is not None:
                    logprobs = chat_logprobs(item.logprobs, top)
                yield chunk(DeltaMessage(content=item.text), logprobs)
            elif isinstance(item, Completed):
                yield chunk(DeltaMessage(), finish_reason=item.finished.finish_reason)
                if request.include_usage():
                    yield sse(
                        ChatCompletionChunk(
                            id=inference.inference_id,
                            created=inference.created,
                            model=request.model,
                            choices=[],
                            usage=usage_info(item.finished.usage),
                        )
                    )
            else:
                yield sse(item.error.body())
        yield SSE_DONE
