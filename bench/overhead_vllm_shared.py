"""What the executor_vs_vllm comparison holds equal on both sides: prompt and engine."""

from __future__ import annotations

MESSAGES = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
# The executor's engine arguments for the reference model on CPU (as tests/engine uses
# them); the executor gets the same through ATTESTA_VLLM_* (EXECUTOR_ENV).
ENGINE_ARGS = {
    "dtype": "float32",
    "max_model_len": 512,
    "enforce_eager": True,
    "disable_log_stats": True,
}
EXECUTOR_ENV = {
    "ATTESTA_ENGINE": "vllm",
    "ATTESTA_VLLM_MAX_MODEL_LEN": "512",
    "ATTESTA_VLLM_ENFORCE_EAGER": "true",
}
# vLLM on CPU: a small KV cache (GiB) and no hub look-ups.
VLLM_ENV = {"VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
