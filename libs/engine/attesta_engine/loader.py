"""Build the engine a service is configured for."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from attesta_common.genesis import ModelSpec

from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import Engine
from attesta_engine.reference import ReferenceEngine
from attesta_engine.vllm_options import EngineLoadError, VllmOptions, not_fitting

EngineKind = Literal["reference", "vllm"]


def load_reference_engine(
    spec: ModelSpec, *, cache_dir: Path | None = None, threads: int | None = None
) -> ReferenceEngine:
    if spec.name != REFERENCE_MODEL:
        raise ValueError(f"the reference engine serves {REFERENCE_MODEL} only, not {spec.name!r}")
    model_dir = ensure_reference_model(cache_dir)
    return ReferenceEngine(
        model_dir, model_name=spec.name, top_k=spec.top_k, dtype=spec.dtype, threads=threads
    )


def load_vllm_engine(
    spec: ModelSpec,
    options: VllmOptions,
    *,
    model_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> Engine:
    """vLLM's async engine (continuous batching); `model_dir` is a local Hugging Face
    folder, needed for every model but the reference one."""
    if importlib.util.find_spec("vllm") is None:
        raise EngineLoadError(
            "engine 'vllm' needs vLLM in this environment: scripts/install_vllm.sh (CPU) or"
            " pip install vllm (GPU), then run the executor from that environment"
        )
    if model_dir is None:
        if spec.name != REFERENCE_MODEL:
            raise EngineLoadError(f"set ATTESTA_MODEL_PATH to the local folder of {spec.name}")
        model_dir = ensure_reference_model(cache_dir)
    _check_devices(options)
    from attesta_engine.vllm_async import AsyncVllmEngine  # imports vLLM: only when chosen

    args = options.engine_args(spec.dtype, spec.max_context_tokens)
    try:
        return AsyncVllmEngine(model_dir, model_name=spec.name, top_k=spec.top_k, **args)
    except Exception as exc:
        settings = options.describe(spec.dtype, spec.max_context_tokens)
        raise not_fitting(spec.name, settings, exc) from exc


def _check_devices(options: VllmOptions) -> None:
    """Fail before vLLM spawns workers that would wait for GPUs that are not there."""
    import torch

    wanted = options.tensor_parallel_size * options.pipeline_parallel_size
    if torch.cuda.is_available() and torch.cuda.device_count() < wanted:
        raise EngineLoadError(
            f"tensor_parallel_size {options.tensor_parallel_size} x pipeline_parallel_size"
            f" {options.pipeline_parallel_size} needs {wanted} GPUs;"
            f" {torch.cuda.device_count()} visible (CUDA_VISIBLE_DEVICES)"
        )
