#!/usr/bin/env bash
# Install everything taxonomy and its tests need into ./.venv (idempotent).
# torch is pinned first: its CPU wheel is small; a bare "torch" pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0" || .venv/bin/python -m pip install -q "torch>=2.1"
.venv/bin/python -m pip install -q -e ".[test,onnx,distributed,bench]"
# A real browser for the report tests (Debian's chromium), when we may install system packages.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing chromium for the report tests (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core) >/dev/null
fi
