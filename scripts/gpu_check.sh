#!/usr/bin/env bash
# GPU acceptance check on a machine with a package index (see scripts/gpu_check.py; for an offline
# one, docs/gpu.md): sets up .venv like `make` if needed (on a CUDA machine that adds bitsandbytes),
# then runs part A and part B, writing gpu_check_A.json and gpu_check_B.json into DIR (default: .).
# Exit 1 when a check failed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
DIR="${1:-.}"
[ -f "$VENV/.lingualift-setup" ] || VENV="$VENV" bash scripts/setup.sh
status=0
for part in A B; do
  "$VENV/bin/python" scripts/gpu_check.py --part "$part" --out "$DIR/gpu_check_$part.json" || status=1
done
exit $status
