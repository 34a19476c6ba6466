"""The engines under contract, each loaded once per session (see conftest.py)."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest
from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.port import Engine
from attesta_engine.reference import ReferenceEngine

ENGINES = ["reference", "vllm"]
HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _require_vllm() -> None:
    if HAS_VLLM:
        return
    if os.environ.get("ATTESTA_REQUIRE_VLLM") == "1":
        pytest.fail("ATTESTA_REQUIRE_VLLM=1 but vLLM is not installed in this environment")
    pytest.skip("vLLM is not installed here (scripts/install_vllm.sh, then .venv-vllm)")


class EnginePool:
    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def get(self, name: str) -> Engine:
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        engine: Engine = self._loaded[name]
        return engine

    @staticmethod
    def _load(name: str) -> Any:
        model_dir = ensure_reference_model()
        if name == "reference":
            # One torch thread: vLLM's engine process needs the other core.
            return ReferenceEngine(model_dir, model_name=REFERENCE_MODEL, threads=1)
        _require_vllm()
        from attesta_engine.vllm_async import AsyncVllmEngine

        return AsyncVllmEngine(
            model_dir,
            model_name=REFERENCE_MODEL,
            dtype="float32",
            max_model_len=512,
            enforce_eager=True,
            disable_log_stats=True,
        )

    def close(self) -> None:
        for engine in self._loaded.values():
            close = getattr(engine, "close", None)
            if callable(close):
                close()
