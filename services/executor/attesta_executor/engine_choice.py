"""The engine this executor's settings ask for, loaded for its genesis model."""

from __future__ import annotations

from attesta_common.genesis import ModelSpec
from attesta_engine.loader import load_reference_engine, load_vllm_engine
from attesta_engine.port import Engine
from attesta_engine.vllm_options import VllmOptions

from attesta_executor.settings import ExecutorSettings


def vllm_options(settings: ExecutorSettings) -> VllmOptions:
    return VllmOptions(
        max_model_len=settings.vllm_max_model_len,
        gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        tensor_parallel_size=settings.vllm_tensor_parallel_size,
        pipeline_parallel_size=settings.vllm_pipeline_parallel_size,
        enforce_eager=settings.vllm_enforce_eager,
    )


def build_engine(settings: ExecutorSettings, model: ModelSpec) -> Engine:
    """Blocking (seconds to minutes): run it off the event loop. Raises EngineLoadError
    with a plain reason when the engine cannot serve the model here."""
    if settings.engine == "reference":
        return load_reference_engine(
            model, cache_dir=settings.model_cache_dir, threads=settings.torch_threads
        )
    return load_vllm_engine(
        model,
        vllm_options(settings),
        model_dir=settings.model_path,
        cache_dir=settings.model_cache_dir,
    )
