"""The GPU-only translate paths: bitsandbytes 4/8-bit and CUDA (transformers and CTranslate2).

They run where the machine has a CUDA GPU (and bitsandbytes, for the quantized runs) and are skipped
with the reason otherwise. The checks of what can be decided without a GPU run everywhere.
"""

import importlib.util
import json

import datasets
import pytest
import torch

from lingualift.cli import main
from lingualift.hardware import A100, H100, T4
from lingualift.models import quantization_config, require_cuda_for_quantization
from lingualift.translate.backends import ct2 as ct2_module
from lingualift.translate.backends.seq2seq import FAMILIES, gpu_dtype

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU: this machine has none")
needs_bnb = pytest.mark.skipif(
    not HAS_CUDA or importlib.util.find_spec("bitsandbytes") is None,
    reason="needs a CUDA GPU and bitsandbytes (pip install 'lingualift[gpu]')",
)
ROWS = [
    {"message_id": f"m{i}", "text": text, "lang": "en"}
    for i, text in enumerate(
        [
            "Hello there. How are you?",
            "The weather is nice today.",
            "How are you?",
            "Thank you very much for the help.",
        ]
        * 3
    )
]


def _translate(tmp_path, name: str, backend: str, model, *flags: str) -> tuple[datasets.Dataset, dict]:
    source = tmp_path / f"{name}.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / f"{name}-out"
    code = main(
        [
            "translate",
            str(source),
            "--to",
            "nl",
            "--backend",
            backend,
            "--model",
            str(model),
            "--out",
            str(out),
            "--max-new-tokens",
            "24",
            "--device",
            "cuda",
            *flags,
        ]
    )
    assert code == 0
    return datasets.load_from_disk(str(out))["train"], json.loads((out / "translate_report.json").read_text())


def _every_row_translated(rows: datasets.Dataset, report: dict) -> None:
    assert len(rows) == len(ROWS)
    assert report["unique_segments"] == 4 and report["failed_segments"] == 0
    assert all(r["translator"] != "none" and r["text"] is not None for r in rows)
    assert [r["source_text"] for r in rows] == [r["text"] for r in ROWS]


@needs_bnb
@pytest.mark.parametrize("flag", ["--quant4", "--quant8"])
@pytest.mark.parametrize("backend", ["opus", "llm"])
def test_quantized_models_translate_every_row_on_the_gpu(
    flag, backend, tiny_marian, tiny_chat_model, tmp_path
):
    model = tiny_marian if backend == "opus" else tiny_chat_model
    rows, report = _translate(tmp_path, f"{backend}{flag}", backend, model, flag)
    _every_row_translated(rows, report)


@needs_cuda
def test_cuda_translation_with_transformers_and_ctranslate2(tiny_marian, tmp_path):
    rows, report = _translate(tmp_path, "hf", "opus", tiny_marian)
    _every_row_translated(rows, report)
    ctranslate2 = pytest.importorskip("ctranslate2", reason="the ct2 extra is not installed")
    if ctranslate2.get_cuda_device_count() == 0:
        pytest.skip("this CTranslate2 build has no CUDA support")
    rows, report = _translate(tmp_path, "ct2", "opus", tiny_marian, "--ct2")
    _every_row_translated(rows, report)
    assert {r["translator"] for r in rows} == {f"opus:{tiny_marian}:ct2-int8_float16"}


@needs_cuda
def test_t5_family_never_runs_in_float16_on_the_gpu(tiny_madlad):
    from lingualift.languages import get_language
    from lingualift.translate.backends.seq2seq import Seq2SeqTranslator

    translator = Seq2SeqTranslator("madlad", str(tiny_madlad), device="cuda")
    assert translator.model.dtype in (torch.bfloat16, torch.float32)
    out = translator.translate(["Hello there."], get_language("en"), get_language("nl"), max_new_tokens=8)
    assert len(out) == 1
    if importlib.util.find_spec("bitsandbytes") is not None:  # the layers left unquantized, too
        quantized = Seq2SeqTranslator(
            "madlad", str(tiny_madlad), device="cuda", quantization=quantization_config(False, True)
        )
        norms = [p.dtype for name, p in quantized.model.named_parameters() if "layer_norm" in name]
        assert norms and torch.float16 not in norms


# What is decided without a GPU: the precision per family and device, and the one-line refusals.


@pytest.mark.parametrize("machine", [T4, A100, H100], ids=["T4", "A100", "H100"])
def test_precision_per_family_follows_the_gpu(machine):
    bf16 = machine.native_bf16
    assert gpu_dtype(FAMILIES["nllb"], machine) == torch.float16
    assert gpu_dtype(FAMILIES["madlad"], machine) == (torch.bfloat16 if bf16 else torch.float32)
    assert ct2_module.default_compute_type(FAMILIES["opus"], "cpu", machine) == "int8"
    assert ct2_module.default_compute_type(FAMILIES["madlad"], "cpu", machine) == "int8"
    assert ct2_module.default_compute_type(FAMILIES["nllb"], "cuda:1", machine) == "int8_float16"
    assert ct2_module.default_compute_type(FAMILIES["madlad"], "cuda", machine) == (
        "int8_bfloat16" if bf16 else "int8_float32"
    )
    assert quantization_config(True, False, machine).bnb_4bit_compute_dtype == (
        torch.bfloat16 if bf16 else torch.float16
    )


def test_quantization_refusals_name_what_is_missing(monkeypatch):
    """The real machine's answer (the table is tests/test_hardware.py): 8-bit off a GPU, and no
    bitsandbytes at all, are one line each; 4-bit on the CPU runs where bitsandbytes has its backend."""
    from importlib import metadata

    from lingualift.errors import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="--quant8 runs on a CUDA GPU only"):
        require_cuda_for_quantization(False, True, "cpu")
    real_version = metadata.version

    def no_bnb(name):
        if name == "bitsandbytes":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(metadata, "version", no_bnb)
    with pytest.raises(ConfigError, match=r"pip install 'lingualift\[gpu\]'"):
        require_cuda_for_quantization(True, False, "cpu")
