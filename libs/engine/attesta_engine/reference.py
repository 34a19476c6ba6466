"""The CPU reference engine: transformers, float32, one sequence at a time.

Generation runs its own decode loop with a KV cache so that the raw logits of every
position are at hand: the top-k log-probabilities are taken from log_softmax of those
logits and the token is chosen from exactly those (float32) numbers.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from attesta_engine.port import (
    Generation,
    GenerationCancelled,
    GenerationSpec,
    PositionScores,
    TokenStep,
)
from attesta_engine.steps import StepBuilder
from attesta_engine.tokenization import Tokenization

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ReferenceEngine(Tokenization):
    def __init__(
        self,
        model_dir: Path,
        *,
        model_name: str,
        top_k: int = 3,
        dtype: str = "float32",
        threads: int | None = None,
    ) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.model_name = model_name
        self.top_k = top_k
        self.dtype = dtype
        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(model_dir))
        # transformers' own annotations are partial; the model is used untyped.
        self._model: Any = cast(
            Any, AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=_DTYPES[dtype])
        )
        self._model.eval()
        # transformers renamed the KV-cache argument (past_key_values -> cache) in 5.2x;
        # vLLM pins an older release, and both must run the same engine.
        parameters = inspect.signature(self._model.forward).parameters
        self._cache_arg = "cache" if "cache" in parameters else "past_key_values"
        self.eos_token_ids = self._eos_token_ids()
        # One forward at a time: torch already uses every core for a single sequence.
        self._lock = threading.Lock()

    def _eos_token_ids(self) -> frozenset[int]:
        ids = {self._tokenizer.eos_token_id}
        configured = self._model.generation_config.eos_token_id
        if isinstance(configured, int):
            ids.add(configured)
        elif configured:
            ids.update(configured)
        return frozenset(i for i in ids if i is not None)

    @property
    def vocab_size(self) -> int:
        return int(self._model.config.vocab_size)

    def generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> Generation:
        with self._lock, torch.inference_mode():
            return self._generate(spec, on_step, should_stop)

    def _generate(
        self,
        spec: GenerationSpec,
        on_step: Callable[[TokenStep], None] | None,
        should_stop: Callable[[], bool] | None,
    ) -> Generation:
        steps = StepBuilder(
            spec, self.top_k, self.eos_token_ids, self.decode, additive_decode=self.additive_decode
        )
        step_input = torch.tensor([spec.prompt_token_ids], dtype=torch.long)
        cache = None
        while not steps.done:
            if should_stop is not None and should_stop():
                raise GenerationCancelled
            result = self._model(input_ids=step_input, use_cache=True, **{self._cache_arg: cache})
            cache = getattr(result, self._cache_arg)
            logprobs = torch.log_softmax(result.logits[0, -1].float(), dim=-1)
            values, indices = torch.topk(logprobs, self.top_k)
            ids = tuple(int(i) for i in indices.tolist())
            lps = tuple(float(v) for v in values.tolist())
            step = steps.choose_and_add(ids, lps)
            if on_step is not None:
                on_step(step)
            step_input = torch.tensor([[step.token_id]], dtype=torch.long)
        return steps.result()

    def score(
        self,
        prompt_ids: Sequence[int],
        output_ids: Sequence[int],
        lookup_ids: Sequence[Sequence[int]],
    ) -> list[PositionScores]:
        if not output_ids:
            return []
        sequence = [*prompt_ids, *output_ids[:-1]]
        positions = len(output_ids)
        vocab = self.vocab_size
        wanted = [
            [int(t) for t in lookup_ids[p]] if p < len(lookup_ids) else [] for p in range(positions)
        ]
        # Every looked-up entry gathered at once: indexing a tensor element by element
        # costs microseconds each.
        pairs = [(p, t) for p, row in enumerate(wanted) for t in row if 0 <= t < vocab]
        with self._lock, torch.inference_mode():
            # Logits only where an output token is predicted: the last `positions` of the
            # sequence (the language-model head is a fifth of the model's weights).
            logits = self._model(
                input_ids=torch.tensor([sequence], dtype=torch.long), logits_to_keep=positions
            ).logits[0]
            if logits.shape[0] != positions:
                # A model class that ignored logits_to_keep would score the prompt too.
                raise RuntimeError(
                    f"expected logits at {positions} positions, got {logits.shape[0]}"
                )
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            values, indices = torch.topk(logprobs, self.top_k, dim=-1)
            gathered: list[float] = []
            if pairs:
                rows, tokens = zip(*pairs, strict=True)
                gathered = logprobs[list(rows), list(tokens)].tolist()
        found = dict(zip(pairs, gathered, strict=True))
        all_ids = indices.tolist()
        all_values = values.tolist()
        scores = []
        for position in range(positions):
            scores.append(
                PositionScores(
                    topk_ids=tuple(int(i) for i in all_ids[position]),
                    topk_logprobs=tuple(float(v) for v in all_values[position]),
                    lookup_logprobs=tuple(
                        found.get((position, t), float("-inf")) for t in wanted[position]
                    ),
                )
            )
        return scores
