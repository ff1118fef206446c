"""`lingualift export merge`: the merged model gives the same logits as base + adapter."""

import json
import shutil

import pytest
import torch

from lingualift.cli import main
from tests.conftest import save_random_lora


@pytest.fixture(scope="module")
def adapter(tiny_chat_model, tmp_path_factory):
    """A LoRA adapter with non-zero (random) B matrices, so merging changes the weights."""
    return save_random_lora(tiny_chat_model, tmp_path_factory.mktemp("adapter"), with_tokenizer=True)


def test_merged_weights_give_the_logits_of_base_plus_adapter(tiny_chat_model, adapter, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    assert main(["export", "merge", "--adapter", str(adapter), "--out", str(out)]) == 0
    assert (out / "model.safetensors").exists() and not (out / "adapter_config.json").exists()
    assert AutoTokenizer.from_pretrained(out).chat_template
    ids = torch.tensor([[5, 17, 42, 8, 99]])
    with torch.no_grad():
        merged = AutoModelForCausalLM.from_pretrained(out).eval()(ids).logits
        stacked = (
            PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_chat_model), adapter)
            .eval()(ids)
            .logits
        )
        base = AutoModelForCausalLM.from_pretrained(tiny_chat_model).eval()(ids).logits
    assert torch.allclose(merged, stacked, atol=1e-5)
    assert not torch.allclose(merged, base, atol=1e-3)  # the adapter is in there


def test_merging_into_a_quantized_base_is_refused_with_a_way_out(tiny_chat_model, adapter, tmp_path, capsys):
    quantized = tmp_path / "base-4bit"
    shutil.copytree(tiny_chat_model, quantized)
    config = json.loads((quantized / "config.json").read_text())
    config["quantization_config"] = {"load_in_4bit": True, "quant_method": "bitsandbytes"}
    (quantized / "config.json").write_text(json.dumps(config))
    code = main(
        [
            "export",
            "merge",
            "--model",
            str(quantized),
            "--adapter",
            str(adapter),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "4-bit-quantized" in capsys.readouterr().err


def test_a_directory_without_an_adapter_is_one_clear_error(tmp_path, capsys):
    assert main(["export", "merge", "--adapter", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "not a LoRA adapter directory" in capsys.readouterr().err


def test_merge_keeps_the_base_dtype_unless_told(tiny_chat_model, adapter, tmp_path):
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM

    base16 = tmp_path / "base-bf16"
    AutoModelForCausalLM.from_pretrained(tiny_chat_model, dtype=torch.bfloat16).save_pretrained(base16)
    for dtype, expected in (("auto", torch.bfloat16), ("float32", torch.float32)):
        out = tmp_path / f"merged-{dtype}"
        assert (
            main(
                [
                    "export",
                    "merge",
                    "--model",
                    str(base16),
                    "--adapter",
                    str(adapter),
                    "--out",
                    str(out),
                    "--dtype",
                    dtype,
                ]
            )
            == 0
        )
        with safe_open(str(out / "model.safetensors"), "pt") as weights:
            assert {weights.get_tensor(k).dtype for k in weights.keys()} == {expected}
        assert (
            json.loads((out / "lingualift_merge.json").read_text())["dtype"] == str(expected).split(".")[-1]
        )


def test_an_unknown_merge_dtype_fails_at_validation(adapter, tmp_path, capsys):
    assert (
        main(["export", "merge", "--adapter", str(adapter), "--out", str(tmp_path / "o"), "--dtype", "int4"])
        == 2
    )
    assert "dtype" in capsys.readouterr().err


def test_gguf_verify_is_skipped_with_the_reason_when_a_float32_copy_cannot_fit(tiny_chat_model, tmp_path):
    from lingualift.export import GGUFConfig, verify_gguf

    lines = []
    config = GGUFConfig(model=str(tiny_chat_model), out=str(tmp_path / "m.gguf"))
    result = verify_gguf(str(tiny_chat_model), tmp_path / "m.gguf", config, echo=lines.append, free_gb=1e-6)
    assert result["verified"] is False and "GiB is free" in result["reason"]
    assert lines == [f"verify: skipped — {result['reason']}"]
