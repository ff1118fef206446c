#!/usr/bin/env bash
# GPU acceptance check (see scripts/gpu_check.py): sets up .venv like `make` if needed (on a CUDA
# machine that adds bitsandbytes), then writes gpu_check.json (or $1). Exit 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
[ -f "$VENV/.lingualift-setup" ] || VENV="$VENV" bash scripts/setup.sh
exec "$VENV/bin/python" scripts/gpu_check.py --out "${1:-gpu_check.json}"
