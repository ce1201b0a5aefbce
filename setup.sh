#!/usr/bin/env bash
# One command on a fresh machine: install into ./.venv, then build the taxonomy and report
# of the bundled 66-paper sample (outputs/sample/report.html).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/install.sh
exec .venv/bin/taxonomy run config/default.yaml --overwrite "$@"
