"""Executor settings, read from ATTESTA_* environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from attesta_common.settings import ServiceSettings
from pydantic import Field


class ExecutorSettings(ServiceSettings):
    key_path: Path = Path(".data/keys/executor-0.key")

    # The genesis model this executor serves.
    model: str = "SmolLM2-135M-Instruct"
    # "reference": transformers, one generation at a time. "vllm": vLLM's async engine,
    # which batches every request in flight (needs vLLM installed: scripts/install_vllm.sh).
    engine: Literal["reference", "vllm"] = "reference"
    # The model's local Hugging Face folder; unset for the reference model (model cache).
    model_path: Path | None = None
    # vLLM only (docs/deploy-gpu.md); the dtype comes from the model's genesis entry.
    vllm_max_model_len: int | None = Field(default=None, ge=16)
    vllm_gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    vllm_tensor_parallel_size: int = Field(default=1, ge=1)
    vllm_pipeline_parallel_size: int = Field(default=1, ge=1)
    vllm_enforce_eager: bool = False
    # Requests in flight at once. On the reference engine they run one after another (the
    # others wait holding their message, kept alive by in-progress acks); on vLLM they are
    # batched together, so raise it there (16 to 64 per GPU).
    capacity: int = Field(default=4, ge=1)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    torch_threads: int | None = Field(default=None, ge=1)
    model_cache_dir: Path | None = None
    # How often a request in hand tells JetStream it is still being worked on.
    progress_interval_s: float = Field(default=5.0, gt=0)
    # A request neither acked nor marked in progress for this long is redelivered.
    ack_wait_s: float = Field(default=30.0, gt=0)
    # Lifetime of the standing pull request for requests (renewed as it ends); on
    # shutdown the executor waits up to this long for it to lapse, so no request is
    # delivered to a process that no longer listens.
    pull_expires_s: float = Field(default=2.0, gt=0)
    # Delay before a request whose records could not be published comes back.
    retry_delay_s: float = Field(default=1.0, ge=0)
    # On shutdown, how long in-flight generations may take to finish before they are
    # abandoned (and redelivered); below the launcher's 15 s before SIGKILL.
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    # The network's canary key (hex file; docs/verification.md): only the network's own
    # executors hold it, and they spoil the canaries the gateway plants on them.
    canary_key_path: Path | None = None
    # With at most this many requests in hand, the `end` goes out before the record is
    # stored, to gateways that ask for it (the store and the gateway's check overlap); with
    # more, one `end` after the store saves an event per request (docs/overhead.md).
    early_end_max_in_flight: int = Field(default=4, ge=0)
    # Finished records kept to answer a redelivered request without generating again.
    recent_records: int = Field(default=256, ge=1)
