"""Build the engine a service is configured for."""

from __future__ import annotations

from pathlib import Path

from attesta_common.genesis import ModelSpec

from attesta_engine.model_store import REFERENCE_MODEL, ensure_reference_model
from attesta_engine.reference import ReferenceEngine


def load_reference_engine(
    spec: ModelSpec, *, cache_dir: Path | None = None, threads: int | None = None
) -> ReferenceEngine:
    if spec.name != REFERENCE_MODEL:
        raise ValueError(f"the reference engine serves {REFERENCE_MODEL} only, not {spec.name!r}")
    model_dir = ensure_reference_model(cache_dir)
    return ReferenceEngine(
        model_dir, model_name=spec.name, top_k=spec.top_k, dtype=spec.dtype, threads=threads
    )
