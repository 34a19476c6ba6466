"""Request models, limits and the OpenAI shapes built from executor chunks."""

from __future__ import annotations

from typing import Any

import pytest
from attesta_common.genesis import ModelSpec
from attesta_common.stream import TokenLogprob, TopLogprob
from attesta_gateway.errors import OpenAIError
from attesta_gateway.protocol import ChatCompletionRequest, CompletionRequest, RequestMessage
from attesta_gateway.serving_chat import chat_logprobs
from attesta_gateway.serving_completions import completion_logprobs
from attesta_gateway.serving_engine import OpenAIServing, sse
from pydantic import ValidationError

MODEL = ModelSpec(name="m", top_k=5, max_context_tokens=100, max_output_tokens=40)


def _chat(**fields: Any) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    )


def test_content_parts_are_joined_and_other_parts_refused() -> None:
    message = RequestMessage.model_validate(
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    )
    assert message.text() == "a\nb"
    assert RequestMessage(role="assistant", content=None).text() == ""
    image = RequestMessage.model_validate(
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}
    )
    with pytest.raises(ValueError, match="image_url"):
        image.text()


def test_request_fields() -> None:
    request = _chat(stop="END", unknown_field=1, stream_options={"include_usage": True})
    assert request.stop_list() == ["END"] and request.include_usage()
    assert _chat(stop=["a", ""]).stop_list() == ["a"]
    assert _chat(max_tokens=5, max_completion_tokens=7).requested_max_tokens() == 7
    bad_fields: list[dict[str, Any]] = [
        {"stop": ["1", "2", "3", "4", "5"]},
        {"temperature": 2.5},
        {"top_p": 0},
        {"seed": 1 << 64},
        {"messages": []},
        {"max_tokens": 0},
    ]
    for bad in bad_fields:
        with pytest.raises(ValidationError):
            _chat(**bad)
    assert CompletionRequest(model="m", prompt="p").max_tokens == 16


def test_sampling_resolves_max_tokens_against_the_model() -> None:
    request = _chat(seed=3, temperature=0)
    params = OpenAIServing.sampling(request, MODEL, 90, None, MODEL.max_output_tokens)
    assert params.max_tokens == 10  # the default, capped by what the context has left
    assert (params.seed, params.temperature, params.top_p) == (3, 0.0, 1.0)
    assert OpenAIServing.sampling(request, MODEL, 10, None, 40).max_tokens == 40
    assert OpenAIServing.sampling(request, MODEL, 10, 40, 40).max_tokens == 40
    random_seeds = {OpenAIServing.sampling(_chat(), MODEL, 10, 1, 40).seed for _ in range(5)}
    assert len(random_seeds) == 5 and all(0 <= s < 1 << 63 for s in random_seeds)

    cases = [
        (10, 41, "invalid_value"),
        (70, 31, "context_length_exceeded"),
        (100, None, "context_length_exceeded"),
    ]
    for bound, max_tokens, code in cases:
        with pytest.raises(OpenAIError) as caught:
            OpenAIServing.sampling(request, MODEL, bound, max_tokens, 40)
        assert caught.value.status_code == 400 and caught.value.code == code


def test_unsupported_parameters_are_refused() -> None:
    OpenAIServing.refuse_unsupported(_chat(n=1, presence_penalty=0, frequency_penalty=0.0))
    for fields, param in (({"n": 2}, "n"), ({"frequency_penalty": 0.1}, "frequency_penalty")):
        with pytest.raises(OpenAIError) as caught:
            OpenAIServing.refuse_unsupported(_chat(**fields))
        assert (caught.value.status_code, caught.value.param) == (400, param)


def _token(text: str) -> TokenLogprob:
    alternatives = [TopLogprob(token=f"{text}{i}", logprob=-float(i), bytes=[]) for i in range(5)]
    return TokenLogprob(
        token=text, logprob=-0.5, bytes=list(text.encode()), top_logprobs=alternatives
    )


def test_logprob_shapes() -> None:
    tokens = [_token("ab"), _token("c")]
    chat = chat_logprobs(tokens, 2)
    assert [t["token"] for t in chat["content"]] == ["ab", "c"]
    assert [len(t["top_logprobs"]) for t in chat["content"]] == [2, 2]
    assert chat["content"][0]["bytes"] == [97, 98]
    legacy = completion_logprobs(tokens, 1, offset=3)
    assert legacy == {
        "tokens": ["ab", "c"],
        "token_logprobs": [-0.5, -0.5],
        "top_logprobs": [{"ab0": 0.0}, {"c0": 0.0}],
        "text_offset": [3, 5],
    }


def test_sse_framing() -> None:
    assert sse({"a": "é"}) == 'data: {"a":"é"}\n\n'
