"""lingualift/models.py: the one loader's refusals, decided before anything loads."""

import json

import pytest

from lingualift.errors import ConfigError
from lingualift.models import adapter_stack, refuse_stacked_on_quantized


def _adapter(path, base) -> str:
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base)}))
    return str(path)


def test_two_stacked_adapters_on_a_quantized_base_are_refused_in_one_line(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    cpt = _adapter(tmp_path / "cpt", base)
    sft = _adapter(tmp_path / "sft", cpt)  # `train sft --model CPT_ADAPTER` names the cpt adapter as its base
    assert adapter_stack(sft) == [sft, cpt] and adapter_stack(str(base)) == []
    for path, adapter in ((sft, None), (cpt, sft)):
        with pytest.raises(ConfigError, match="stacks 2 LoRA adapters") as refused:
            refuse_stacked_on_quantized(path, adapter, quantized=True)
        assert "export merge" in str(refused.value) and "\n" not in str(refused.value)
        refuse_stacked_on_quantized(path, adapter, quantized=False)  # unquantized: merged, then stacked
    refuse_stacked_on_quantized(cpt, None, quantized=True)  # one adapter on a 4-bit base is QLoRA's case
    refuse_stacked_on_quantized(str(base), cpt, quantized=True)


def test_the_vocabulary_check_reads_zero3_partitioned_shapes(tiny_chat_model):
    """Under ZeRO-3's zero.Init every parameter is an empty tensor with its shape in ds_shape: the
    check must read that, not refuse a model whose embeddings look like 0 rows."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lingualift.errors import ModelError
    from lingualift.models import check_vocabulary, full_numel

    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    weight = model.get_input_embeddings().weight
    shape, count = weight.shape, weight.numel()
    weight.data = torch.empty(0)  # what deepspeed.zero.Init leaves on each rank
    weight.ds_shape, weight.ds_numel = shape, count
    check_vocabulary(model, tokenizer, "zero3")  # no refusal
    assert full_numel(weight) == count
    weight.ds_shape = torch.Size([len(tokenizer) - 1, shape[1]])
    with pytest.raises(ModelError, match="only"):
        check_vocabulary(model, tokenizer, "zero3")
