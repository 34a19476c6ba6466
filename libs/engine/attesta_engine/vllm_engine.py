"""The vLLM adapter of the engine port (synchronous: one `LLMEngine` stepped in place).

Generation reports vLLM's raw top-k log-probabilities and lets `AttestaChoice` pick each
token inside vLLM; scoring is one prefill with `prompt_logprobs`. For continuous batching
of concurrent requests (the executor) see `vllm_async.AsyncVllmEngine`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from attesta_common.artifact import TopKArtifact
from vllm import LLM, SamplingParams, TokensPrompt
from vllm.sampling_params import RequestOutputKind

from attesta_engine.port import (
    Generation,
    GenerationCancelled,
    GenerationSpec,
    PositionScores,
    TokenStep,
)
from attesta_engine.text_stream import safe_prefix_length, stop_index
from attesta_engine.tokenization import Tokenization
from attesta_engine.vllm_choice import SEED_ARG, AttestaChoice

# Prefill top-k is wider than the artifact's so that the reported tokens of an honest
# executor are (almost) always among the validator's returned candidates.
SCORE_WIDTH_FACTOR = 4


def ranked(entry: dict[int, Any], k: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    ranked = sorted(entry.items(), key=lambda item: item[1].rank)[:k]
    return tuple(t for t, _ in ranked), tuple(float(lp.logprob) for _, lp in ranked)


class VllmEngine(Tokenization):
    def __init__(
        self,
        model_dir: Path,
        *,
        model_name: str,
        top_k: int = 5,
        dtype: str = "float32",
        max_model_len: int = 2048,
        **engine_args: Any,
    ) -> None:
        self.model_name = model_name
        self.top_k = top_k
        self._llm = LLM(
            model=str(model_dir),
            dtype=dtype,
            max_model_len=max_model_len,
            logits_processors=[AttestaChoice],
            **engine_args,
        )
        self._tokenizer: Any = self._llm.get_tokenizer()
        self.eos_token_ids = frozenset({int(self._tokenizer.eos_token_id)})
        self._counter = 0

    @property
    def vocab_size(self) -> int:
        return int(self._llm.llm_engine.model_config.get_vocab_size())

    def _request_id(self) -> str:
        self._counter += 1
        return f"attesta-{self._counter}"

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        params = SamplingParams(
            temperature=0.0,  # the processor has already chosen; greedy takes its token
            max_tokens=spec.max_tokens,
            logprobs=self.top_k,
            output_kind=RequestOutputKind.CUMULATIVE,
            extra_args={
                SEED_ARG: spec.seed,
                "attesta_temperature": spec.temperature,
                "attesta_top_p": spec.top_p,
                "attesta_top_k": self.top_k,
            },
        )
        engine = self._llm.llm_engine
        request_id = self._request_id()
        engine.add_request(request_id, TokensPrompt(prompt_token_ids=spec.prompt_token_ids), params)
        output: list[int] = []
        top_ids: list[tuple[int, ...]] = []
        top_lps: list[tuple[float, ...]] = []
        text, emitted, finish = "", 0, "length"
        while engine.has_unfinished_requests():
            if should_stop is not None and should_stop():
                engine.abort_request([request_id])
                raise GenerationCancelled
            for result in engine.step():
                completion = result.outputs[0]
                for position in range(len(output), len(completion.token_ids)):
                    token = int(completion.token_ids[position])
                    ids, lps = ranked(completion.logprobs[position], self.top_k)
                    output.append(token)
                    top_ids.append(ids)
                    top_lps.append(lps)
                    text = self.decode(output)
                    cut = stop_index(text, spec.stop)
                    done = token in self.eos_token_ids or cut is not None
                    if cut is not None:
                        text = text[:cut]
                    visible = len(text) if done else safe_prefix_length(text, spec.stop)
                    if on_step is not None:
                        on_step(TokenStep(position, token, ids, lps, text[emitted:visible]))
                    emitted = max(emitted, visible)
                    if done:
                        finish = "stop"
                        engine.abort_request([request_id])
                        break
        artifact = TopKArtifact.build(self.top_k, top_ids, top_lps)
        return Generation(list(spec.prompt_token_ids), output, text, finish, artifact)  # type: ignore[arg-type]

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        if not output_ids:
            return []
        width = self.top_k * SCORE_WIDTH_FACTOR
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=width)
        sequence = [*prompt_ids, *output_ids]
        result = self._llm.generate(
            TokensPrompt(prompt_token_ids=sequence), params, use_tqdm=False
        )[0]
        return score_rows(
            result.prompt_logprobs or [], len(prompt_ids), len(output_ids), lookup_ids, self.top_k
        )


def score_rows(
    rows: Sequence[dict[int, Any] | None],
    prompt_len: int,
    output_len: int,
    lookup_ids: Sequence[Sequence[int]],
    top_k: int,
) -> list[PositionScores]:
    """The output positions of a `prompt_logprobs` prefill as the port's scores."""
    scores = []
    for position in range(output_len):
        entry = rows[prompt_len + position] or {}
        ids, lps = ranked(entry, top_k)
        floor = min((float(lp.logprob) for lp in entry.values()), default=float("-inf"))
        wanted = lookup_ids[position] if position < len(lookup_ids) else ()
        # A token outside the returned candidates is at most as likely as the least
        # likely returned one: an honest bound, used only for rare tail tokens.
        looked = tuple(float(entry[t].logprob) if t in entry else floor for t in wanted)
        scores.append(PositionScores(ids, lps, looked))
    return scores
