"""How an executor's settings map onto vLLM's engine arguments (no vLLM import here).

The dtype is not an option: it comes from the model's genesis entry, because the
validators' calibration (distance threshold, replay tolerance) holds for that dtype only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class EngineLoadError(RuntimeError):
    """The engine cannot serve this model here: not installed, or it does not fit."""


@dataclass(frozen=True)
class VllmOptions:
    # None: the model's max_context_tokens from genesis.
    max_model_len: int | None = None
    # Share of each GPU's memory vLLM may take for weights, activations and KV cache.
    gpu_memory_utilization: float = 0.9
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    # CUDA graphs off: slower decode, faster start and less memory.
    enforce_eager: bool = False

    def engine_args(self, dtype: str, max_context_tokens: int) -> dict[str, Any]:
        return {
            "dtype": dtype,
            "max_model_len": self.max_model_len or max_context_tokens,
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
            "enforce_eager": self.enforce_eager,
            # Per-step stats lines would flood the executor's log.
            "disable_log_stats": True,
        }

    def describe(self, dtype: str, max_context_tokens: int) -> str:
        return (
            f"dtype={dtype}, max_model_len={self.max_model_len or max_context_tokens},"
            f" gpu_memory_utilization={self.gpu_memory_utilization},"
            f" tensor_parallel_size={self.tensor_parallel_size},"
            f" pipeline_parallel_size={self.pipeline_parallel_size}"
        )


def not_fitting(model: str, settings: str, cause: BaseException) -> EngineLoadError:
    return EngineLoadError(
        f"vLLM could not start {model} ({settings}): {type(cause).__name__}: {cause}."
        " If the model or its KV cache does not fit: lower ATTESTA_VLLM_MAX_MODEL_LEN, raise"
        " ATTESTA_VLLM_GPU_MEMORY_UTILIZATION, or spread the model over more GPUs with"
        " ATTESTA_VLLM_TENSOR_PARALLEL_SIZE / ATTESTA_VLLM_PIPELINE_PARALLEL_SIZE"
        " (docs/deploy-gpu.md); vLLM's own log above names the root cause."
    )
