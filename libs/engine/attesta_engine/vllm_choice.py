"""The replayable token choice inside vLLM's sampling path (a v1 logits processor).

Every row of the batch whose request carries `attesta_seed` in its extra args gets its
token chosen by `attesta_common.sampling.choose_token` from the row's own top-k
log-probabilities, and every other logit of the row is set to -inf; vLLM's own sampling
runs at temperature 0 and so takes exactly that token. The choice stays batched: one
log_softmax and one top-k for the whole batch. vLLM reports the raw log-probabilities
(computed before any processor), which are the numbers the choice was made from:
`choose_token` and the `StepBuilder` snap the same float32 values to the same grid.
This module must import in vLLM's worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from attesta_common.sampling import choose_token
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

SEED_ARG = "attesta_seed"


@dataclass
class _RowChoice:
    seed: int
    temperature: float
    top_p: float
    top_k: int
    output_token_ids: list[int]  # vLLM's live list: its length is the position chosen now


class AttestaChoice(LogitsProcessor):  # type: ignore[misc]  # vLLM is untyped for mypy
    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self._rows: dict[int, _RowChoice] = {}

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        args = sampling_params.extra_args or {}
        if SEED_ARG not in args:
            return
        # These change the logits before this processor sees them, so the reported
        # distribution would no longer be the one the token was drawn from.
        if (
            sampling_params.min_tokens
            or sampling_params.logit_bias
            or (sampling_params.allowed_token_ids or sampling_params.bad_words)
        ):
            raise ValueError(
                "min_tokens, logit_bias, allowed_token_ids and bad_words are not verifiable"
            )

    def is_argmax_invariant(self) -> bool:
        return False  # it must also run on greedy rows: vLLM samples at temperature 0

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self._rows, batch_update, self._new_row)

    @staticmethod
    def _new_row(
        params: SamplingParams, prompt_ids: list[int] | None, output_ids: list[int]
    ) -> _RowChoice | None:
        args = params.extra_args or {}
        if SEED_ARG not in args:
            return None
        return _RowChoice(
            seed=int(args[SEED_ARG]),
            temperature=float(args["attesta_temperature"]),
            top_p=float(args["attesta_top_p"]),
            top_k=int(args["attesta_top_k"]),
            output_token_ids=output_ids,
        )

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self._rows:
            return logits
        rows = sorted(self._rows)
        k = max(self._rows[r].top_k for r in rows)
        logprobs = torch.log_softmax(logits[rows].float(), dim=-1)
        values, indices = torch.topk(logprobs, k, dim=-1)
        chosen = []
        for i, row in enumerate(rows):
            state = self._rows[row]
            try:
                token = choose_token(
                    indices[i, : state.top_k].tolist(),
                    values[i, : state.top_k].tolist(),
                    state.temperature,
                    state.top_p,
                    state.seed,
                    len(state.output_token_ids),
                )
            except ValueError:
                # A NaN in one row must not take down the engine core and every request
                # in the batch: this row takes its first candidate, and its request fails
                # on its own when the adapter reports the NaN (`StepBuilder`).
                token = int(indices[i, 0])
            chosen.append(token)
        row_index = torch.tensor(rows, device=logits.device)
        token_index = torch.tensor(chosen, device=logits.device)
        kept = logits[row_index, token_index].clone()
        logits[row_index] = float("-inf")
        logits[row_index, token_index] = kept
        return logits
