"""`lingualift export merge`: fold a LoRA adapter into its base and save plain weights that any
tool loads (transformers, vLLM, llama.cpp's converter), with the tokenizer and chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from lingualift.errors import ConfigError, ModelError


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(None, description="Base model; default: the base the adapter names")
    adapter: str = Field(description="LoRA adapter directory (lingualift train's output)")
    out: str = Field(description="Directory for the merged safetensors, tokenizer and chat template")
    dtype: str = Field("float32", description="Saved weights: float32, bfloat16 or float16")
    push_to_hub: Optional[str] = Field(None, description="Also push to this hub repo (token from HF_TOKEN)")
    private: bool = Field(True, description="Create the hub repo private")


def merge_adapter(config: MergeConfig, *, echo=print) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoTokenizer

    from lingualift.models import adapter_base, load_causal_lm, resolve_model

    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if config.dtype not in dtypes:
        raise ConfigError(f"--dtype {config.dtype}: use one of {', '.join(dtypes)}")
    base_name = adapter_base(config.adapter)
    if base_name is None:
        raise ModelError(f"{config.adapter}: not a LoRA adapter directory (no adapter_config.json)")
    base_path = resolve_model(config.model or base_name)
    if config.push_to_hub:
        from lingualift.io import hub_token

        hub_token()
    quantized = _quantization(base_path)
    if quantized:
        raise ModelError(f"{base_path} is stored {quantized}-quantized: merging into quantized weights loses the "
                         "adapter's precision; pass the unquantized base with --model (it is dequantized on load)")  # fmt: skip
    base = load_causal_lm(base_path, dtype=dtypes[config.dtype])
    merged = PeftModel.from_pretrained(base, config.adapter).merge_and_unload()
    out = Path(config.out)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer_source = (
        config.adapter if (Path(config.adapter) / "tokenizer_config.json").exists() else base_path
    )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    tokenizer.save_pretrained(out)
    report = Path(config.adapter) / "training_report.json"
    (out / "lingualift_merge.json").write_text(json.dumps(
        {"base": str(config.model or base_name), "adapter": str(config.adapter), "dtype": config.dtype}, indent=2))  # fmt: skip
    echo(f"merged {config.adapter} into {config.model or base_name} → {out}")
    if config.push_to_hub:
        from lingualift.train.hub import push_model

        training = json.loads(report.read_text()) if report.is_file() else {"config": {"model": base_name}}
        training = {**training, "mode": "full"}
        echo(f"pushed to {push_model(out, config.push_to_hub, training, private=config.private)}")
    return out


def _quantization(path: str) -> str | None:
    config = Path(path) / "config.json"
    if not config.is_file():
        return None
    settings = json.loads(config.read_text()).get("quantization_config") or {}
    if settings.get("load_in_4bit") or settings.get("bits") == 4:
        return "4-bit"
    if settings.get("load_in_8bit") or settings.get("bits") == 8:
        return "8-bit"
    return None
