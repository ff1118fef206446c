"""scripts/gpu_check.py, the GPU acceptance run: on this CPU machine both parts run their
CPU-checkable checks for real (LoRA with trained embeddings and packing, a bf16 merge, chat and
serve over HTTP, --ct2 for a seq2seq and a chat model) and the GPU-only ones say why they were
skipped; the deadline, the per-check timeout and the wheelhouse install behave as the offline GPU
machine needs them to."""

import importlib.util
import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
SPEC = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(gpu_check)

GPU_ONLY = {
    "A": {
        "translate_cuda",
        "translate_quant4",
        "translate_quant8",
        "sft_qlora",
        "t4_simulation",
        "fsdp_quant4",
        "dpo_quant4",
        "harness_quant4",
    },
    "B": {"cublas_probe"},
    "C": set(),  # the same code at tiny sizes
}


def _run(part: str, out: Path, *flags: str) -> tuple[subprocess.CompletedProcess, dict]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_check.py"), "--part", part, "--out", str(out), *flags],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return done, json.loads(out.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("part", ["A", "B", "C"])
def test_each_part_runs_its_cpu_checks_and_says_what_it_skipped(part, tmp_path):
    done, summary = _run(part, tmp_path / f"gpu_check_{part}.json")
    checks = summary["checks"]
    assert done.returncode == 0 and summary["failed"] == 0, json.dumps(checks, indent=1)[-3000:]
    assert list(checks) == [name for name, _ in gpu_check.PARTS[part]]
    assert summary["versions"]["torch"] == torch.__version__ and summary["versions"]["transformers"]
    if torch.cuda.is_available():
        return
    skipped = {name for name, c in checks.items() if c["status"] == "skip"}
    assert skipped == GPU_ONLY[part]
    assert all("needs a CUDA GPU" in checks[name]["reason"] for name in skipped)
    assert checks["policy"]["figures"]["device"] == "cpu"
    if part == "A":
        groups = checks["sft_embeddings"]["figures"]["setup"]["optimizer_groups"]
        assert sorted({g["lr"] for g in groups}) == pytest.approx([2e-5, 2e-4])
        assert checks["merge_bf16"]["figures"]["dtypes"] == ["BF16"]
        served = checks["chat_serve"]["figures"]
        assert served["device"] == "cpu" and served["chunks"] > 1 and served["plain"] == served["streamed"]
        assert served["batched_equal_to_alone"] == 1.0  # float32 on a CPU: the same tokens
    elif part == "C":  # ours and the plain loop measured side by side, each on the same shapes
        for name in ("scale_qlora", "scale_lora_bf16"):
            figures = checks[name]["figures"]
            assert figures["shape"] == "tiny" and figures["lingualift"]["steps"] == 2
            assert figures["ratio_tokens_per_second"] == pytest.approx(
                figures["lingualift"]["tokens_per_second"] / figures["plain_loop"]["tokens_per_second"],
                abs=0.01,
            )
        translated = checks["scale_translate"]["figures"]
        assert translated["rows"] == 8 and sum(translated["lingualift"]["outcomes"].values()) == 8
        assert translated["plain_generate"]["tokens_per_second"] > 0
    else:
        assert checks["ct2_seq2seq"]["figures"]["translator"][0].endswith(":ct2-int8")
        assert checks["ct2_chat"]["figures"]["translator"][0].startswith("llm:")


def test_a_deadline_already_spent_skips_every_check_and_still_writes_the_json(tmp_path):
    done, summary = _run("B", tmp_path / "late.json", "--deadline", "1")
    assert done.returncode == 0, done.stderr
    assert list(summary["checks"]) == [name for name, _ in gpu_check.PARTS["B"]]
    assert {c["status"] for c in summary["checks"].values()} == {"skip"}
    assert all("--deadline" in c["reason"] for c in summary["checks"].values())


def test_a_check_past_its_timeout_is_a_failure_with_the_reason(tmp_path):
    result = gpu_check.run_child("policy", "A", tmp_path, 1, 0.2, {"PATH": "/usr/bin:/bin"})
    assert result["status"] == "fail" and result["reason"].startswith("timed out after 0 s")


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel of a module `gpu_check_probe`."""
    path = folder / "gpu_check_probe-1.0-py3-none-any.whl"
    info = "gpu_check_probe-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("gpu_check_probe.py", "ANSWER = 42\n")
        wheel.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: gpu_check_probe\nVersion: 1.0\n")
        wheel.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{info}/RECORD", "")
    return path


@pytest.mark.parametrize("with_pip", [True, False])
def test_the_wheelhouse_installs_with_pip_or_by_unzipping_where_there_is_none(
    with_pip, tmp_path, monkeypatch
):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels)
    if not with_pip:  # a venv without pip, as some preinstalled Pythons are
        venv.create(tmp_path / "bare", with_pip=False)
        monkeypatch.setattr(gpu_check.sys, "executable", str(tmp_path / "bare" / "bin" / "python"))
    site = tmp_path / "site"
    assert gpu_check.install_wheels(wheels, site) == ["gpu_check_probe-1.0-py3-none-any.whl"]
    probe = subprocess.run(
        [sys.executable, "-c", "import gpu_check_probe; print(gpu_check_probe.ANSWER)"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(site)},
    )
    assert probe.stdout.strip() == "42"


def test_an_empty_wheelhouse_is_one_line_naming_the_script(tmp_path):
    with pytest.raises(SystemExit, match="scripts/gpu_wheels.sh"):
        gpu_check.install_wheels(tmp_path, tmp_path / "site")


def test_the_import_check_names_every_package_lingualift_imports():
    """Each third-party package any lingualift module imports is in a part's import check, so a
    package missing on the lent machine fails there in one line, before a check needs it. gguf is
    `export gguf` only, which the GPU check does not run; heliport is an optional extra (--lid
    heliport) the checks do not use."""
    import ast
    import sys
    from pathlib import Path

    from scripts.gpu_check import MODULES

    root = Path(__file__).resolve().parents[1] / "lingualift"
    imported = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = {n for n in imported if n not in sys.stdlib_module_names and n != "lingualift"} - {
        "gguf",
        "heliport",
    }
    checked = {name.split(".")[0] for part in MODULES.values() for name in part} | {"torch"}
    assert third_party - checked == set()
