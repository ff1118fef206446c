"""CTranslate2 fast paths: `ctranslate2.Translator` for the seq2seq families, `ctranslate2.Generator`
for chat LMs (llm, tower). Converted once, cached, int8 on CPU by default.

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
from lingualift.hardware import available_cores, ct2_generator_rows, ct2_threads
from lingualift.translate.backends.base import Translation, row_caps
from lingualift.translate.backends.early_stop import LoopWatch, end_token_ids, watch_flags
from lingualift.translate.backends.llm import LLMTranslator, clean_output
from lingualift.translate.backends.seq2seq import FAMILIES, Seq2SeqTranslator

# The ctranslate2 4.x wheels link against CUDA 12's cuBLAS. A CUDA 13 stack (torch's cu13 build)
# ships only libcublas.so.13, and every batch then fails at its first matrix product (CTranslate2
# issue 1933), so the library is looked for before anything is converted or loaded.
CT2_CUBLAS = "libcublas.so.12"


def cublas_candidates() -> list[str]:
    """CT2_CUBLAS by name (the loader's path, or a copy torch already loaded), then the copies pip's
    nvidia-cublas-cu12 puts under site-packages, which no loader path names."""
    import site
    import sys

    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    found = [Path(root) / "nvidia" / "cublas" / "lib" / CT2_CUBLAS for root in roots if root]
    return [CT2_CUBLAS, *dict.fromkeys(str(path) for path in found if path.is_file())]


def missing_cuda_library(device: str, load, candidates: list[str]) -> str | None:
    """The one line that says how to get the cuBLAS CTranslate2 needs on `device`; None when it
    loads (or on a CPU). `load` opens a shared library (ctypes.CDLL), raising OSError when it cannot."""
    from lingualift.hardware import is_cuda

    if not is_cuda(device):
        return None
    for candidate in candidates:
        try:
            load(candidate)
            return None
        except OSError:
            continue
    return (
        f"--ct2 on {device}: CTranslate2 needs {CT2_CUBLAS} (CUDA 12) and cannot load it here (a CUDA 13 "
        "stack ships only libcublas.so.13): pip install nvidia-cublas-cu12, or run without --ct2"
    )


def require_cuda_library(device: str) -> None:
    import ctypes

    problem = missing_cuda_library(
        device, lambda name: ctypes.CDLL(name, mode=ctypes.RTLD_GLOBAL), cublas_candidates()
    )
    if problem:
        raise ConfigError(problem)


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
        _fill_missing_bos(tmp / "model" / "config.json")
        os.replace(tmp / "model", target)
    except Exception as error:
        raise ModelError(f"CTranslate2 could not convert '{model}': {error}") from error
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _fill_missing_bos(config_path: Path) -> None:
    """A tokenizer without a bos token (Qwen2's, many ChatML models') converts to `"bos_token": null`,
    which CTranslate2 then refuses to load; our prompts carry their own start tokens, so the eos
    token stands in."""
    import json

    config = json.loads(config_path.read_text())
    if config.get("bos_token") is None and config.get("eos_token"):
        config["bos_token"] = config["eos_token"]
        config_path.write_text(json.dumps(config, indent=2))


def ct2_placement(device: str) -> dict:
    """Where and how a ctranslate2.Translator or Generator runs: the device ("cuda:1" is CTranslate2's
    device "cuda", index 1) and the thread split of hardware.ct2_threads."""
    kind, _, index = device.partition(":")
    inter, intra = ct2_threads(device, available_cores())
    return {"device": kind, "device_index": int(index or 0), "inter_threads": inter, "intra_threads": intra}


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

    def __init__(
        self,
        family: str,
        model: str,
        *,
        device: str = "cpu",
        num_beams: int = 1,
        compute_type: str | None = None,
        trust_remote_code: bool = False,
    ):
        import ctranslate2
        from transformers import AutoTokenizer

        if not FAMILIES[family].ct2:
            raise ConfigError(
                f"--ct2: CTranslate2 has no converter for the {family} family; run it without --ct2"
            )
        require_cuda_library(device)
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
        placement = ct2_placement(device)
        self.parallel_batches = placement["inter_threads"]  # the engine keeps this many batches generating
        self.translator = ctranslate2.Translator(str(path), compute_type=compute_type, **placement)
        from transformers import AutoConfig

        limit = (
            getattr(
                AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code),
                "max_position_embeddings",
                None,
            )
            or 512
        )
        self.max_length = min(int(limit), 1024)
        self.max_input_tokens = min(self.spec.max_input_tokens, self.max_length // 2)

    def source_tokens(self, texts, src, tgt) -> tuple[list[list[str]], str | None]:
        inputs, token = self.prepare_inputs(texts, src, tgt)
        ids = self.tokenizer(inputs, truncation=True, max_length=self.max_input_tokens * 2)["input_ids"]
        return [self.tokenizer.convert_ids_to_tokens(i) for i in ids], token if self.spec.forced_bos else None

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        caps = row_caps(max_new_tokens, len(texts))
        tokens, prefix = self.source_tokens(texts, src, tgt)
        options = {"beam_size": self.num_beams, "max_decoding_length": max(caps)}
        if prefix:
            options["target_prefix"] = [[prefix]] * len(texts)
        if strict:
            options.update(no_repeat_ngram_size=4, repetition_penalty=1.3)
        watch = None
        # CTranslate2 calls back in greedy search only. Under no_repeat_ngram_size=4 no LOOP_SHAPES
        # loop can be written (each contains a repeated 4-gram), and the per-token Python callback
        # would only slow the retry down (measured +57%).
        if self.early_stop and self.num_beams == 1 and not strict:
            end_ids = end_token_ids(None, self.tokenizer)
            watch = options["callback"] = LoopWatch(texts, caps=caps, end_ids=end_ids)
        results = self.translator.translate_batch(tokens, **options)
        out = []
        for index, result in enumerate(results):
            hypothesis = result.hypotheses[0]
            if prefix and hypothesis and hypothesis[0] == prefix:
                hypothesis = hypothesis[1:]
            ids = self.tokenizer.convert_tokens_to_ids(hypothesis)
            text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            flags = watch_flags(watch, index)
            if watch is None and len(result.hypotheses[0]) >= options["max_decoding_length"]:
                flags.append("truncated_output")  # no end token within the cap (it is not returned)
            out.append(Translation(text, flags))
        return out


def generator_compute_type(device: str, machine=None) -> str:
    """int8 weights for a chat LM; activations in the precision policy's dtype on a GPU (bfloat16
    where the GPU has it natively, else float16), int8 alone on CPU."""
    from lingualift.hardware import Machine, inference_dtype, is_cuda

    if not is_cuda(device):
        return "int8"
    return "int8_" + inference_dtype(machine or Machine.here(), device)


def prompt_groups(lengths: list[int], *, strict: bool, rows: int | None) -> list[list[int]]:
    """The rows of each Generator call for prompts of these lengths (in tokens, after the static
    prompt). CTranslate2 forwards a call's prompts at once only up to the shortest one's length and
    feeds the rest of the longer ones through the decoding loop.

    `strict` (a retry under repetition_penalty): one call per prompt length. The penalty counts what
    the loop was fed, the longer prompts' end-of-turn token among it, and the model would not stop;
    prompts of one length keep the penalty on generated tokens, as the transformers path does.
    Otherwise at most `rows` rows of like length per call, shortest first (`hardware.ct2_generator_rows`:
    fewer prompt tokens fed step by step), or every row in one call, in order."""
    if strict:
        by_length: dict[int, list[int]] = {}
        for row, length in enumerate(lengths):
            by_length.setdefault(length, []).append(row)
        return list(by_length.values())
    if not rows or len(lengths) <= rows:
        return [list(range(len(lengths)))]
    order = sorted(range(len(lengths)), key=lambda row: (lengths[row], row))
    return [order[start : start + rows] for start in range(0, len(order), rows)]


class CT2LLMTranslator(LLMTranslator):
    """LLMTranslator's prompt, early stops and output cleaning, with generation by
    ctranslate2.Generator on the model converted once into the cache."""

    def __init__(
        self,
        model: str,
        *,
        backend: str = "llm",
        device: str = "cpu",
        prompt_template: str | None = None,
        compute_type: str | None = None,
        trust_remote_code: bool = False,
    ):
        import ctranslate2
        from transformers import AutoConfig, AutoTokenizer, GenerationConfig

        from lingualift.models import resolve_model

        require_cuda_library(device)
        path = resolve_model(model)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        except OSError as error:
            raise ModelError(f"cannot load the tokenizer of '{model}': {error}") from error
        try:
            generation = GenerationConfig.from_pretrained(path)
        except OSError:  # no generation_config.json: the tokenizer's eos alone
            generation = None
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        compute_type = compute_type or generator_compute_type(device)
        converted = converted_model_dir(path, compute_type)
        placement = ct2_placement(device)
        self.parallel_batches = placement["inter_threads"]  # the engine keeps this many batches generating
        self.rows_per_call = ct2_generator_rows(device, placement["intra_threads"])
        self.generator = ctranslate2.Generator(str(converted), compute_type=compute_type, **placement)
        self.name = f"{backend}:{model}:ct2-{compute_type}"
        self.device = device
        self.set_prompt_and_limits(prompt_template, config)
        self.end_ids = sorted(end_token_ids(generation, self.tokenizer))

    def translate(self, texts, src, tgt, *, max_new_tokens, strict=False):
        caps = row_caps(max_new_tokens, len(texts))
        ids = self.tokenizer(self.prompts(texts, src, tgt), add_special_tokens=False)["input_ids"]
        options = {
            "include_prompt_in_result": False,  # prompts forwarded at once up to a call's shortest (prompt_groups)
            "end_token": self.end_ids,
            "beam_size": 1,
            "sampling_topk": 1,
        }
        prefix = self.prompt_prefix(src, tgt)
        if prefix.starts(ids):  # forwarded once and cached by the generator, as the transformers path does
            options["static_prompt"] = self.tokenizer.convert_ids_to_tokens(prefix.ids)
            ids = [p[len(prefix.ids) :] for p in ids]
        if strict:
            options["repetition_penalty"] = 1.3
        groups = prompt_groups([len(prompt) for prompt in ids], strict=strict, rows=self.rows_per_call)
        translations: list[Translation | None] = [None] * len(texts)
        asynchronous = len(groups) > 1  # the groups run side by side on the generator's workers
        submitted = []
        for rows in groups:
            group_caps = [caps[r] for r in rows]
            watch = None
            if self.early_stop:
                watch = LoopWatch([texts[r] for r in rows], self.tokenizer, group_caps, self.end_ids)
            results = self.generator.generate_batch(
                [self.tokenizer.convert_ids_to_tokens(ids[r]) for r in rows],
                callback=watch,
                asynchronous=asynchronous,
                max_length=max(group_caps),  # generated tokens, as max_new_tokens
                **options,
            )
            submitted.append((rows, watch, results))
        for rows, watch, results in submitted:
            if asynchronous:
                results = [result.result() for result in results]
            decoded = self.tokenizer.batch_decode(
                [r.sequences_ids[0] for r in results], skip_special_tokens=True
            )
            for position, (row, raw) in enumerate(zip(rows, decoded)):
                translations[row] = clean_output(raw, texts[row], tgt)
                translations[row].flags += watch_flags(watch, position)
        return translations
