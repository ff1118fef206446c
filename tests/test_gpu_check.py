"""scripts/gpu_check.py, the GPU acceptance run: on this CPU machine its CPU-checkable part runs for
real (translate with CTranslate2, LoRA training, chat, serve through the openai client, bf16 merge,
GGUF export with verify) and the GPU-only checks say why they were skipped."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_gpu_acceptance_script_runs_its_cpu_part_and_says_what_it_skipped(tmp_path, demo_model_path):
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = json.loads(out.read_text())
    checks = summary["checks"]
    assert done.returncode == 0 and summary["failed"] == 0, json.dumps(checks, indent=1)[-3000:]
    assert list(checks) == [
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
    ]
    if not torch.cuda.is_available():
        assert {name for name, c in checks.items() if c["status"] == "skip"} == {
            "translate_quant4",
            "translate_quant8",
        }
        assert all(
            "needs a CUDA GPU" in checks[name]["reason"] for name in ("translate_quant4", "translate_quant8")
        )
        assert checks["train"]["figures"]["mode"] == "lora" and checks["policy"]["figures"]["device"] == "cpu"
        assert checks["translate_ct2_llm"]["figures"]["translator"] == ["llm:demo:ct2-int8"]
    assert checks["merge_bf16"]["figures"]["dtypes"] == ["BF16"]
    assert any("greedy tokens identical" in line for line in checks["gguf"]["figures"]["verify"])
