"""The 4-bit path on the CPU (bitsandbytes' CPU backend): QLoRA through `train sft --quant4`, the
adapter merged into float weights, and `chat --quant4` — the paths most GPU users take, run here."""

import json

import datasets
import pytest

from lingualift.cli import main
from lingualift.io import save_dataset
from tests.builders import build_tiny_llama3

pytest.importorskip("bitsandbytes", reason="the dev extra installs bitsandbytes (its CPU backend)")

CONVERSATIONS = [
    [{"role": "user", "content": "Wat is de hoofdstad?"}, {"role": "assistant", "content": "Amsterdam."}],
    [{"role": "user", "content": "Noem een kleur."}, {"role": "assistant", "content": "Blauw is mooi."}],
]


@pytest.fixture(scope="module")
def llama3(tmp_path_factory):
    """Llama-3-shaped, dimensions multiples of 64 as bitsandbytes' kernels take them."""
    return build_tiny_llama3(tmp_path_factory.mktemp("llama3"))


@pytest.fixture(scope="module")
def threads(tmp_path_factory):
    rows = [{"id": str(i), "lang": "nl", "messages": m} for i, m in enumerate(CONVERSATIONS)]
    return str(save_dataset(datasets.Dataset.from_list(rows), tmp_path_factory.mktemp("threads") / "t"))


def test_qlora_trains_on_the_cpu_and_merges_into_float_weights_that_answer_as_base_plus_adapter(
    llama3, threads, tmp_path
):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "qlora"
    args = ["--model", str(llama3), "--data", threads, "--out", str(out), "--quant4", "--max-steps", "6"]
    assert main(["train", "sft", *args, "--lr", "1e-2", "--batch-size", "2"]) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["mode"] == "qlora" and report["steps"] == 6
    assert report["final_loss"] < report["first_loss"]  # it learns through the 4-bit base
    assert report["setup"]["kbit_upcast"] is True and report["setup"]["device_map"] == "{'': 'cpu'}"
    assert (out / "adapter_model.safetensors").is_file()

    merged = tmp_path / "merged"
    assert main(["export", "merge", "--adapter", str(out), "--out", str(merged)]) == 0
    tokenizer = AutoTokenizer.from_pretrained(merged)
    ids = tokenizer("Wat is de hoofdstad?", return_tensors="pt")
    with torch.no_grad():
        plain = AutoModelForCausalLM.from_pretrained(llama3).eval()
        before = plain(**ids).logits
        with_adapter = PeftModel.from_pretrained(plain, out).eval()(**ids).logits
        after = AutoModelForCausalLM.from_pretrained(merged).eval()(**ids).logits
    assert torch.allclose(after, with_adapter, atol=1e-4)  # merged onto the float base, not the 4-bit one
    assert not torch.allclose(after, before, atol=1e-3)  # and the adapter is in it


def test_chat_loads_a_4bit_model_on_the_cpu(llama3, tmp_path, capsys, monkeypatch):
    from lingualift import models
    from lingualift.models import ModelPlacement, load_chat_model

    monkeypatch.setattr(models, "_said_slow", [])  # said once a process

    model, _ = load_chat_model(str(llama3), quantization=ModelPlacement(quant4=True).quantization())
    assert any(type(m).__name__ == "Linear4bit" for m in model.modules())
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"prompt": "Wat is de hoofdstad?"}) + "\n")
    replies = tmp_path / "r.jsonl"
    args = [
        "chat",
        str(llama3),
        "--input",
        str(prompts),
        "--out",
        str(replies),
        "--quant4",
        "--max-new-tokens",
        "4",
    ]
    assert main(args) == 0
    assert "4-bit on the CPU" in capsys.readouterr().err  # said once, in one line
    assert "reply" in json.loads(replies.read_text())


def test_dpo_trains_on_a_4bit_base_on_the_cpu(llama3, tmp_path):
    pairs = [
        {
            "prompt": [c[0]],
            "chosen": [c[1]],
            "rejected": [{"role": "assistant", "content": "I do not know."}],
        }
        for c in CONVERSATIONS
    ]
    data = save_dataset(datasets.Dataset.from_list(pairs), tmp_path / "pairs")
    out = tmp_path / "dpo"
    args = ["--model", str(llama3), "--data", str(data), "--out", str(out), "--quant4", "--max-steps", "2"]
    assert main(["train", "dpo", *args, "--batch-size", "2"]) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["mode"] == "qlora" and report["steps"] == 2 and not (out / "ref").exists()


def test_translate_with_a_4bit_llm_on_the_cpu(llama3, tmp_path):
    source = tmp_path / "a.jsonl"
    source.write_text(
        "".join(json.dumps({"text": t, "lang": "en"}) + "\n" for t in ("Good morning.", "Thank you."))
    )
    out = tmp_path / "nl"
    args = ["translate", str(source), "--to", "nl", "--backend", "llm", "--model", str(llama3), "--quant4"]
    assert main([*args, "--out", str(out)]) == 0
    rows = datasets.load_from_disk(str(out))["train"].to_list()
    assert [r["source_text"] for r in rows] == ["Good morning.", "Thank you."]
    assert all(r["translator"].startswith("llm:") for r in rows)  # every row went through the 4-bit model


@pytest.mark.slow
def test_two_cpu_processes_train_qlora_each_on_its_own_4bit_copy(llama3, threads, tmp_path):
    """The cpu-ddp launch with --quant4: each rank loads its own 4-bit copy on the CPU (device_map
    {'': 'cpu'}, hardware.load_device_map) and the two train one adapter together."""
    out = tmp_path / "ddp"
    args = ["--model", str(llama3), "--data", threads, "--out", str(out), "--quant4", "--max-steps", "2"]
    args += ["--batch-size", "1", "--accelerate-config", "cpu-ddp", "--num-processes", "2"]
    assert main(["train", "sft", *args]) == 0
    report = json.loads((out / "training_report.json").read_text())
    assert report["world_size"] == 2 and report["steps"] == 2 and report["mode"] == "qlora"
    assert report["setup"]["device_map"] == "{'': 'cpu'}" and (out / "adapter_model.safetensors").is_file()
