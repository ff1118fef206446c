"""The model side of training (lingualift/train/model.py) on tiny real models: what a T4's fp16
scaler needs, the checkpointing QLoRA gets, trained embeddings' own learning rate, and the dtype
trl's DPO trainer leaves a quantized model's adapters in."""

import json

import pytest
import torch

from lingualift import hardware as hw
from lingualift.cli import main
from lingualift.train.config import TrainConfig
from lingualift.train.model import Setup, attach_adapters, cast_trainable, lora_config


@pytest.fixture(scope="module")
def untied_model(tiny_chat_model, tmp_path_factory):
    """The tiny chat model with an output layer of its own (as Llama-3's), so that LoRA with trained
    embeddings saves two whole matrices."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    model.config.tie_word_embeddings = False
    model.lm_head.weight = torch.nn.Parameter(model.lm_head.weight.detach().clone())
    path = tmp_path_factory.mktemp("untied")
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(tiny_chat_model).save_pretrained(path)
    return path


def _config(path, **options) -> TrainConfig:
    return TrainConfig(model=str(path), data="unused", out="unused", **options)


def _scaled_step(model) -> None:
    """One fp16 mixed-precision step as the Trainer takes it on a T4: autocast, scaled loss, unscale."""
    scaler = torch.amp.GradScaler("cpu")
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.autocast("cpu", dtype=torch.float16):
        loss = model(input_ids=ids, labels=ids).loss
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    scaler.step(optimizer)
    model.zero_grad(set_to_none=True)


def test_a_t4_trains_lora_with_whole_embeddings_once_they_are_float32(untied_model):
    from transformers import AutoModelForCausalLM

    config = _config(untied_model, train_embeddings=True)
    # a T4 loads the LoRA base in float16 (no native bfloat16); peft copies the embeddings whole in it
    model = AutoModelForCausalLM.from_pretrained(untied_model, dtype=torch.float16)
    peft_config = lora_config(config, model)
    assert sorted(peft_config.modules_to_save) == ["embed_tokens", "lm_head"]
    model = attach_adapters(model, config, peft_config, Setup("float16", None, False), "single", False)
    whole = {p.dtype for n, p in model.named_parameters() if p.requires_grad and "modules_to_save" in n}
    assert whole == {torch.float16}
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        _scaled_step(model)  # what the user hit at the first step
    model.zero_grad(set_to_none=True)
    assert cast_trainable(model, hw.trainable_dtype("fp16", "single", quantized=False)) == "float32"
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    assert {p.dtype for p in model.parameters() if not p.requires_grad} == {
        torch.float16
    }  # base stays 16-bit
    _scaled_step(model)


def _checkpoint_functions(model) -> list:
    return [
        m._gradient_checkpointing_func for m in model.modules() if getattr(m, "gradient_checkpointing", False)
    ]


@pytest.mark.parametrize(
    "checkpointing, distributed, kind",
    [(False, "single", None), (True, "single", "non-reentrant"), (True, "zero3", "reentrant")],
)
def test_qlora_checkpoints_only_when_asked_and_of_the_kind_the_launch_needs(
    tiny_chat_model, checkpointing, distributed, kind
):
    from transformers import AutoModelForCausalLM

    config = _config(tiny_chat_model, quant4=True, gradient_checkpointing=checkpointing)
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    model.is_loaded_in_4bit = True  # what bitsandbytes leaves: peft's k-bit preparation runs for real
    setup = Setup("bfloat16", None, False)
    reentrant = hw.reentrant_checkpointing(distributed, lora=True)
    model = attach_adapters(model, config, lora_config(config), setup, distributed, reentrant)
    functions = _checkpoint_functions(model)
    assert setup.gradient_checkpointing == kind
    if distributed == "zero3":  # sharded: no blanket float32 upcast, checkpointing left to the Trainer
        assert setup.kbit_upcast is False and functions == []
        return
    assert setup.kbit_upcast is True
    if not checkpointing:  # peft's default would have turned reentrant checkpointing on here
        assert functions == [] and not model.base_model.model.is_gradient_checkpointing
    else:
        assert functions and {f.keywords["use_reentrant"] for f in functions} == {reentrant}


def _train(model, data, out, *flags) -> dict:
    assert (
        main(
            [
                "train",
                "sft",
                "--model",
                str(model),
                "--data",
                str(data),
                "--out",
                str(out),
                "--max-steps",
                "2",
                "--batch-size",
                "2",
                "--max-seq-length",
                "64",
                "--lr",
                "1e-3",
                *flags,
            ]
        )
        == 0
    )
    return json.loads((out / "training_report.json").read_text())


@pytest.fixture(scope="module")
def threads(tmp_path_factory):
    from lingualift.demo.sample import sample_rows

    folder = tmp_path_factory.mktemp("threads")
    source = folder / "sample.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in sample_rows()))
    assert main(["threads", str(source), "--out", str(folder / "out"), "--lang", "en"]) == 0
    return folder / "out"


@pytest.mark.parametrize("flags, rate", [((), 1e-4), (("--embedding-lr", "5e-5"), 5e-5)])
def test_trained_embeddings_learn_at_their_own_rate(untied_model, threads, tmp_path, flags, rate):
    report = _train(untied_model, threads, tmp_path / "out", "--train-embeddings", *flags)
    groups = report["setup"]["optimizer_groups"]
    embeddings = [g for g in groups if g["embeddings"]]
    adapters = [g for g in groups if not g["embeddings"]]
    vocabulary, hidden = 600, 32  # approximately: the tokenizer's size
    assert embeddings and all(g["lr"] == pytest.approx(rate) for g in embeddings)
    assert adapters and all(g["lr"] == pytest.approx(1e-3) for g in adapters)
    assert sum(g["parameters"] for g in embeddings) >= 2 * hidden * (
        vocabulary - 10
    )  # embed_tokens + lm_head
    assert report["trainable_parameters"] == sum(g["parameters"] for g in groups)
    assert report["setup"]["trainable_dtype"] is None  # CPU: trained in float32 as loaded


def test_without_trained_embeddings_one_rate_and_the_setup_is_recorded(tiny_chat_model, threads, tmp_path):
    report = _train(tiny_chat_model, threads, tmp_path / "out", "--gradient-checkpointing")
    setup = report["setup"]
    assert all(g["lr"] == pytest.approx(1e-3) for g in setup["optimizer_groups"])
    assert not any(g["embeddings"] for g in setup["optimizer_groups"])
    assert setup["gradient_checkpointing"] == "non-reentrant" and setup["load_dtype"] == "float32"
    assert setup["device_map"] is None and setup["kbit_upcast"] is None


def test_the_dpo_trainer_leaves_no_bfloat16_adapter_on_a_quantized_fp16_base(tiny_chat_model):
    """trl's DPOTrainer casts a quantized model's trained parameters to bfloat16 in its constructor
    (the QLoRA paper's advice), which a T4 has only as a slow emulation; cast_trainable after the
    trainer is built puts them back to float32 for the fp16 scaler."""
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    config = _config(tiny_chat_model, method="dpo", quant4=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    model.is_loaded_in_4bit = True
    model = attach_adapters(
        model, config, lora_config(config), Setup("float16", None, False), "single", False
    )
    pairs = datasets.Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": "Hallo"}],
                "chosen": [{"role": "assistant", "content": "Goedendag"}],
                "rejected": [{"role": "assistant", "content": "Hello"}],
            }
        ]
        * 2
    )
    args = DPOConfig(
        output_dir="unused", use_cpu=True, report_to=[], max_length=64, per_device_train_batch_size=2
    )
    trainer = DPOTrainer(model=model, args=args, train_dataset=pairs, processing_class=tokenizer)
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.bfloat16}
    cast_trainable(trainer.model, hw.trainable_dtype("fp16", "single", quantized=True))
    assert {p.dtype for p in trainer.model.parameters() if p.requires_grad} == {torch.float32}
