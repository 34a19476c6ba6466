"""Choosing the engine: vLLM settings map onto engine arguments, and an engine that cannot
serve stops the executor with a plain reason."""

from __future__ import annotations

import importlib.util

import pytest
from attesta_common.genesis import Genesis, ModelSpec
from attesta_devnet.genesis_builder import DevnetKeys
from attesta_engine.vllm_options import EngineLoadError
from attesta_executor.engine_choice import build_engine, vllm_options
from attesta_executor.service import Executor, StartupError
from attesta_executor.settings import ExecutorSettings


def test_vllm_settings_from_the_environment_map_onto_engine_args(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATTESTA_ENGINE", "vllm")
    monkeypatch.setenv("ATTESTA_VLLM_MAX_MODEL_LEN", "4096")
    monkeypatch.setenv("ATTESTA_VLLM_GPU_MEMORY_UTILIZATION", "0.85")
    monkeypatch.setenv("ATTESTA_VLLM_TENSOR_PARALLEL_SIZE", "2")
    monkeypatch.setenv("ATTESTA_VLLM_PIPELINE_PARALLEL_SIZE", "2")
    settings = ExecutorSettings()
    assert settings.engine == "vllm"
    args = vllm_options(settings).engine_args("bfloat16", 2048)
    assert args == {
        "dtype": "bfloat16",
        "max_model_len": 4096,
        "gpu_memory_utilization": 0.85,
        "tensor_parallel_size": 2,
        "pipeline_parallel_size": 2,
        "enforce_eager": False,
        "disable_log_stats": True,
    }
    # Unset, the context comes from the model's genesis entry.
    monkeypatch.delenv("ATTESTA_VLLM_MAX_MODEL_LEN")
    default = vllm_options(ExecutorSettings(engine="vllm"))
    assert default.engine_args("float32", 2048)["max_model_len"] == 2048


def test_an_unknown_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTESTA_ENGINE", "llama.cpp")
    with pytest.raises(ValueError, match="engine"):
        ExecutorSettings()


def test_a_model_without_a_folder_is_refused_before_vllm_starts() -> None:
    if importlib.util.find_spec("vllm") is None:
        pytest.skip("checked after the vLLM import check")
    with pytest.raises(EngineLoadError, match="ATTESTA_MODEL_PATH"):
        build_engine(ExecutorSettings(engine="vllm"), ModelSpec(name="Llama-70B"))


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
async def test_vllm_missing_stops_the_executor_with_the_reason(
    devnet_keys: DevnetKeys, genesis: Genesis
) -> None:
    executor = Executor(ExecutorSettings(engine="vllm"), genesis, devnet_keys.executors[0])
    with pytest.raises(StartupError, match=r"install_vllm\.sh"):
        await executor.start()
