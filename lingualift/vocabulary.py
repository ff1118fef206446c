"""The record `lingualift tokenizer extend` leaves beside a model it extended, read by train and
export (a low module: the core stages do not import tools/)."""

from __future__ import annotations

import json
from pathlib import Path

MARKER = "lingualift_tokenizer.json"
BASE_TOKENIZER = (
    "base_tokenizer"  # the tokenizer before extension, kept beside the model (GGUF export uses it)
)


def keep_extension_record(source: str, out: Path) -> None:
    """A model made from an extended one (merged) keeps the report and the base tokenizer."""
    import shutil

    if (Path(source) / MARKER).is_file():
        shutil.copy2(Path(source) / MARKER, out / MARKER)
        shutil.copytree(Path(source) / BASE_TOKENIZER, out / BASE_TOKENIZER, dirs_exist_ok=True)


def extended_vocabulary(model_path: str) -> dict | None:
    """The `tokenizer extend` report of a model directory (or of an adapter's base), or None."""
    from lingualift.models import adapter_base

    for directory in (model_path, adapter_base(model_path) or ""):
        marker = Path(directory) / MARKER if directory else None
        if marker and marker.is_file():
            return json.loads(marker.read_text())
    return None
