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
