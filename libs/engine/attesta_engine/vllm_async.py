"""The vLLM adapter with continuous batching: vLLM's `AsyncLLM` on an event loop of its own.

Concurrent generations are batched by vLLM's scheduler, each token still chosen by
`AttestaChoice` inside the batched sampling step. The engine runs on a dedicated loop
thread so its output processing (detokenizing, log-prob lists) never competes with the
caller's loop; callers may await `generate_async` from any loop, or call the synchronous
port methods from any thread (validators), and those batch too.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any, TypeVar

from transformers import GenerationConfig
from vllm import SamplingParams, TokensPrompt
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.sampling_params import RequestOutputKind
from vllm.v1.engine.async_llm import AsyncLLM

from attesta_engine.port import (
    Generation,
    GenerationCancelled,
    GenerationSpec,
    PositionScores,
    TokenStep,
)
from attesta_engine.steps import StepBuilder
from attesta_engine.tokenization import Tokenization
from attesta_engine.vllm_choice import SEED_ARG, AttestaChoice
from attesta_engine.vllm_scoring import SCORE_WIDTH_FACTOR, ranked, score_rows

T = TypeVar("T")
# How often a generation waiting in vLLM's queue checks whether it should stop.
_POLL_S = 0.1


class AsyncVllmEngine(Tokenization):
    def __init__(
        self, model_dir: Path, *, model_name: str, top_k: int = 3, **engine_args: Any
    ) -> None:
        self.model_name = model_name
        self.top_k = top_k
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="vllm", daemon=True)
        self._thread.start()
        args = AsyncEngineArgs(
            model=str(model_dir), logits_processors=[AttestaChoice], **engine_args
        )
        try:
            # Built on its own loop, where vLLM starts its output handler.
            self._llm: AsyncLLM = self._call(self._build(args))
        except BaseException:
            self._stop_loop()
            raise
        self._tokenizer: Any = self._llm.get_tokenizer()
        self.eos_token_ids = _eos_token_ids(model_dir, self._tokenizer)
        self._counter = 0

    @staticmethod
    async def _build(args: AsyncEngineArgs) -> AsyncLLM:
        return AsyncLLM.from_engine_args(args)

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @property
    def vocab_size(self) -> int:
        return int(self._llm.model_config.get_vocab_size())

    def _request_id(self) -> str:
        self._counter += 1  # only ever touched on the engine loop
        return f"attesta-{self._counter}"

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        return self._call(self._run(spec, on_step, should_stop))

    async def generate_async(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        # Cancelling the caller cancels the task on the engine loop, which aborts in vLLM.
        future = asyncio.run_coroutine_threadsafe(self._run(spec, on_step, should_stop), self._loop)
        return await asyncio.wrap_future(future)

    async def _run(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> Generation:
        task = asyncio.ensure_future(self._stream(spec, on_step))
        try:
            while not (await asyncio.wait({task}, timeout=_POLL_S))[0]:
                if should_stop is not None and should_stop():
                    raise GenerationCancelled
        finally:
            task.cancel()  # a no-op once it is done
        return task.result()

    async def _stream(
        self, spec: GenerationSpec, on_step: Callable[[TokenStep], None] | None
    ) -> Generation:
        params = SamplingParams(
            temperature=0.0,  # the processor has already chosen; greedy takes its token
            max_tokens=spec.max_tokens,
            logprobs=self.top_k,
            output_kind=RequestOutputKind.DELTA,
            extra_args={
                SEED_ARG: spec.seed,
                "attesta_temperature": spec.temperature,
                "attesta_top_p": spec.top_p,
                "attesta_top_k": self.top_k,
            },
        )
        steps = StepBuilder(
            spec, self.top_k, self.eos_token_ids, self.decode, additive_decode=self.additive_decode
        )
        prompt = TokensPrompt(prompt_token_ids=list(spec.prompt_token_ids))
        # Leaving the loop early (a stop sequence) closes the stream, which aborts in vLLM.
        async with aclosing(self._llm.generate(prompt, params, self._request_id())) as outputs:
            async for result in outputs:
                completion = result.outputs[0]
                for token, entry in zip(
                    completion.token_ids, completion.logprobs or [], strict=True
                ):
                    step = steps.add(int(token), *ranked(entry, self.top_k))
                    if on_step is not None:
                        on_step(step)
                    if steps.done:
                        return steps.result()
        return steps.result()

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        if not output_ids:
            return []
        return self._call(self._score([*prompt_ids, *output_ids], len(prompt_ids), lookup_ids))

    async def _score(
        self, sequence: list[int], prompt_len: int, lookup_ids: Sequence[Sequence[int]]
    ) -> list[PositionScores]:
        width = self.top_k * SCORE_WIDTH_FACTOR
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=width)
        final = None
        async for result in self._llm.generate(
            TokensPrompt(prompt_token_ids=sequence), params, self._request_id()
        ):
            final = result
        rows = (final.prompt_logprobs if final is not None else None) or []
        return score_rows(rows, prompt_len, len(sequence) - prompt_len, lookup_ids, self.top_k)

    def close(self) -> None:
        self._call(self._shutdown())
        self._stop_loop()

    async def _shutdown(self) -> None:
        # Dropped here, not at interpreter exit, where vLLM's __del__ shuts down again and
        # fails on half-torn-down modules.
        llm = self.__dict__.pop("_llm")
        llm.shutdown()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def _eos_token_ids(model_dir: Path, tokenizer: Any) -> frozenset[int]:
    # The same set as the reference engine: the tokenizer's and the generation config's.
    ids = {tokenizer.eos_token_id}
    try:
        configured = GenerationConfig.from_pretrained(str(model_dir)).eos_token_id
    except OSError:
        configured = None
    if isinstance(configured, int):
        ids.add(configured)
    elif configured:
        ids.update(configured)
    return frozenset(int(i) for i in ids if i is not None)
