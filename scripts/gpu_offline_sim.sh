#!/usr/bin/env bash
# Rehearse scripts/gpu_check.py on the offline GPU machine's package set, here (docs/gpu.md):
# a fresh venv with only what that machine has (this machine's CPU torch and Python standing in;
# transformers 5.17, accelerate 1.15, huggingface-hub 1.33 as there), the wheelhouse for this
# Python from scripts/gpu_wheels.sh installed with --no-index --no-deps --target, lingualift on
# PYTHONPATH, an empty model cache, the hub switched off. Every part must end with none failed.
#
#   bash scripts/gpu_offline_sim.sh [WORK]      (default /tmp/lingualift-gpu-sim; about 5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-/tmp/lingualift-gpu-sim}"
PYTHON="${PYTHON:-python3}"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV="$WORK/venv"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  PIP=("$VENV/bin/python" -m pip install -q --disable-pip-version-check)
  "${PIP[@]}" --no-index --no-deps "torch==${LINGUALIFT_TORCH_VERSION:-2.13.0}" 2>/dev/null \
    || "${PIP[@]}" "torch==${LINGUALIFT_TORCH_VERSION:-2.13.0}" --index-url https://download.pytorch.org/whl/cpu
  # The machine's packages that lingualift's paths touch (its image holds many more).
  "${PIP[@]}" transformers==5.17.0 accelerate==1.15.0 huggingface-hub==1.33.0 "peft>=0.18" tokenizers \
    safetensors sentencepiece sacrebleu pyarrow pandas typer rich tqdm httpx pytest numpy scipy \
    scikit-learn matplotlib pyyaml requests aiohttp fsspec xxhash jinja2 psutil protobuf filelock \
    sympy networkx
fi
rm -rf "$WORK/wheels"
PIP="$VENV/bin/python -m pip" bash scripts/gpu_wheels.sh "$WORK/wheels" "$PYVER"
status=0
for part in A B C; do  # part C takes part A's wheels (bitsandbytes)
  LINGUALIFT_CACHE="$WORK/cache-$part" HF_HOME="$WORK/hf-$part" \
    "$VENV/bin/python" scripts/gpu_check.py --part "$part" --wheels "$WORK/wheels/${part/C/A}" \
    --site "$WORK/site-$part" --out "$WORK/gpu_check_$part.json" --deadline 330 || status=1
done
du -sm "$WORK"/wheels/* | sed 's/^/gpu_offline_sim: wheelhouse MiB: /'
exit $status
