#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: install the project with CUDA torch and RAPIDS cuML in a fresh
# venv, then compare the GPU path (--backend cuml) with the CPU path on a simulated log.
# Takes a few minutes (most of it the install); needs PyPI and pypi.nvidia.com.
#   bash bench/gpu_check.sh [--size small] [--corpora ../shared/data/prompts]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-gpu}
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e . "torch" --extra-index-url https://pypi.nvidia.com "cuml-cu12"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$VENV/bin/python" bench/gpu_check.py "$@"
