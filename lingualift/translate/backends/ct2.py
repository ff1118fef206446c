"""CTranslate2 fast path for the seq2seq families: converted once, cached, int8 on CPU by default.

Tokenization stays with the transformers tokenizer (as CTranslate2 expects); the target language
token is passed as `target_prefix` where the family forces one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from lingualift.errors import ConfigError, ModelError
from lingualift.translate.backends.base import Translation
from lingualift.translate.backends.early_stop import LoopWatch
from lingualift.translate.backends.seq2seq import FAMILIES, Seq2SeqTranslator


def converted_model_dir(model: str, quantization: str) -> Path:
    """Convert `model` with CTranslate2's TransformersConverter once; reuse the cached result."""
    import ctranslate2

    from lingualift.demo.model import cache_dir

    stamp = model
    if Path(model).exists():  # a local directory: its content decides, not just its path
        config = Path(model) / "config.json"
        stamp += str(config.stat().st_mtime_ns) if config.exists() else ""
    digest = hashlib.sha256(f"{stamp}|{quantization}|{ctranslate2.__version__}".encode()).hexdigest()[:16]
    target = cache_dir() / "ct2" / f"{Path(model).name}-{quantization}-{digest}"
    if (target / "model.bin").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        converter = ctranslate2.converters.TransformersConverter(model)
        converter.convert(str(tmp / "model"), quantization=quantization, force=True)
        os.replace(tmp / "model", target)
    except Exception as error:
        raise ModelError(f"CTranslate2 could not convert '{model}': {error}") from error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def default_compute_type(spec, device: str, machine=None) -> str:
    """int8 weights; activations in float16 on a GPU, bfloat16 for the T5 family (float32 where the
    GPU has no bfloat16), float32 on CPU."""
    from lingualift.hardware import Machine, inference_dtype, is_cuda

    if not is_cuda(device):
        return "int8"
    if spec.bfloat16:
        return "int8_" + inference_dtype(machine or Machine.here(), device, bf16_only=True)
    return "int8_float16"


class CT2Translator(Seq2SeqTranslator):
    """Same family spec and tokenizer as Seq2SeqTranslator; generation by ctranslate2.Translator."""

    def __init__(self, family: str, model: str, *, device: str = "cpu", num_beams: int = 1,
                 compute_type: str | None = None, trust_remote_code: bool = False):  # fmt: skip
        import ctranslate2
        from transformers import AutoTokenizer

        if not FAMILIES[family].ct2:
            raise ConfigError(
                f"--ct2: CTranslate2 has no converter for the {family} family; run it without --ct2"
            )
        self.spec = FAMILIES[family]
        self.family = family
        self.model_id = model
        self.num_beams = num_beams
        compute_type = compute_type or default_compute_type(self.spec, device)
        self.name = f"{family}:{model}:ct2-{compute_type}"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=trust_remote_code)
        except OSError as error:
            raise ModelError(f"cannot load the tokenizer of '{model}': {error}") from error
        path = converted_model_dir(model, compute_type)
        kind, _, index = device.partition(":")  # CTranslate2 takes "cuda" and an index, not "cuda:1"
        self.translator = ctranslate2.Translator(
            str(path), device=kind, device_index=int(index or 0), compute_type=compute_type
        )
        from transformers import AutoConfig

        limit = getattr(AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code),
                        "max_position_embeddings", None) or 512  # fmt: skip
        self.max_length = min(int(limit), 1024)
        self.max_input_tokens = min(self.spec.max_input_tokens, self.max_length // 2)

    def source_tokens(self, texts, src, tgt) -> tuple[list[list[str]], str | None]:
        inputs, token = self.prepare_inputs(texts, src, tgt)
        ids = self.tokenizer(inputs, truncation=True, max_length=self.max_input_tokens * 2)["input_ids"]
        return [self.tokenizer.convert_ids_to_tokens(i) for i in ids], token if self.spec.forced_bos else None

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        tokens, prefix = self.source_tokens(texts, src, tgt)
        options = {"beam_size": self.num_beams, "max_decoding_length": max_new_tokens}
        if prefix:
            options["target_prefix"] = [[prefix]] * len(texts)
        if strict:
            options.update(no_repeat_ngram_size=4, repetition_penalty=1.3)
        watch = None
        # CTranslate2 calls back in greedy search only. Under no_repeat_ngram_size=4 no LOOP_SHAPES
        # loop can be written (each contains a repeated 4-gram), and the per-token Python callback
        # would only slow the retry down (measured +57%).
        if self.early_stop and self.num_beams == 1 and not strict:
            watch = options["callback"] = LoopWatch(texts)
        results = self.translator.translate_batch(tokens, **options)
        out = []
        for index, result in enumerate(results):
            hypothesis = result.hypotheses[0]
            if prefix and hypothesis and hypothesis[0] == prefix:
                hypothesis = hypothesis[1:]
            ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            flags = ["repetition"] if watch and index in watch.cut else []
            out.append(Translation(self.tokenizer.decode(ids, skip_special_tokens=True).strip(), flags))
        return out
