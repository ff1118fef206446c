"""The hardware policy, table-tested for every machine users have: CPU, T4 (7.5, no native
bfloat16), V100 (7.0), A100 (8.0), H100 (9.0); one process or a rank of four; each launch kind."""

import pytest

from lingualift import hardware as hw
from lingualift.hardware import A100, CPU, H100, T4, V100, Machine

RANK2_OF_4_H100 = Machine((9, 0), world_size=4, local_rank=2)
RANK3_OF_4_T4 = Machine((7, 5), world_size=4, local_rank=3)


@pytest.mark.parametrize(
    "machine, requested, device",
    [
        (CPU, None, "cpu"),
        (T4, None, "cuda"),
        (H100, None, "cuda"),
        (RANK2_OF_4_H100, None, "cuda:2"),
        (RANK3_OF_4_T4, None, "cuda:3"),
        (H100, "cpu", "cpu"),
        (CPU, "cuda:1", "cuda:1"),
    ],
)
def test_default_device_is_this_process_gpu_else_cpu(machine, requested, device):
    assert hw.default_device(machine, requested) == device


@pytest.mark.parametrize(
    "machine, native, chat, t5, quant_compute, precision",
    [
        (CPU, False, "float32", "float32", "float32", "no"),
        (V100, False, "float16", "float32", "float16", "fp16"),
        (T4, False, "float16", "float32", "float16", "fp16"),
        (RANK3_OF_4_T4, False, "float16", "float32", "float16", "fp16"),
        (A100, True, "bfloat16", "bfloat16", "bfloat16", "bf16"),
        (H100, True, "bfloat16", "bfloat16", "bfloat16", "bf16"),
        (RANK2_OF_4_H100, True, "bfloat16", "bfloat16", "bfloat16", "bf16"),
    ],
)
def test_precision_follows_the_gpu_kind(machine, native, chat, t5, quant_compute, precision):
    device = hw.default_device(machine)
    assert machine.native_bf16 is native
    assert hw.inference_dtype(machine, device) == chat
    assert hw.inference_dtype(machine, device, bf16_only=True) == t5
    assert hw.quant_compute_dtype(machine) == quant_compute
    assert hw.training_precision(machine, device) == precision
    assert hw.inference_dtype(machine, "cpu") == "float32" and hw.training_precision(machine, "cpu") == "no"


@pytest.mark.parametrize(
    "machine, mode, dtype",
    [
        (CPU, "lora", "float32"),
        (CPU, "full", "float32"),
        (T4, "lora", "float16"),
        (T4, "full", "float32"),
        (T4, "quant4", "float16"),
        (T4, "quant8", "float16"),
        (A100, "lora", "bfloat16"),
        (A100, "full", "float32"),
        (A100, "quant4", "bfloat16"),
        (H100, "full", "float32"),
        (RANK2_OF_4_H100, "quant4", "bfloat16"),
    ],
)
def test_training_weights_dtype_lets_fp16_scale_and_bf16_run_native(machine, mode, dtype):
    # full training keeps float32 master weights everywhere: fp16 cannot unscale float16 gradients, and
    # pure bfloat16 weights round small updates away
    assert hw.training_load_dtype(machine, hw.default_device(machine), mode) == dtype


@pytest.mark.parametrize(
    "machine, device, distributed, quantized, device_map, storage",
    [
        (CPU, "cpu", "single", False, None, None),
        (CPU, "cpu", "single", True, {"": "cpu"}, None),  # 4-bit on bitsandbytes' CPU backend
        (T4, "cuda", "single", True, {"": 0}, None),
        (T4, "cuda", "single", False, {"": "cuda"}, None),
        (H100, "cuda:1", "single", False, {"": "cuda:1"}, None),
        (A100, "cuda", "ddp", True, {"": 0}, None),
        (RANK2_OF_4_H100, "cuda:2", "ddp", True, {"": 2}, None),
        (RANK2_OF_4_H100, "cuda:2", "ddp", False, {"": "cuda:2"}, None),
        (RANK3_OF_4_T4, "cuda:3", "ddp", True, {"": 3}, None),
        (RANK2_OF_4_H100, "cuda:2", "fsdp", True, None, "bfloat16"),
        (RANK2_OF_4_H100, "cuda:2", "fsdp", False, None, "bfloat16"),
        (RANK3_OF_4_T4, "cuda:3", "fsdp", True, None, "float16"),
        (RANK2_OF_4_H100, "cuda:2", "zero3", True, None, "bfloat16"),
        (RANK2_OF_4_H100, "cuda:2", "zero2", True, {"": 2}, None),
    ],
)
def test_weights_load_straight_onto_the_process_gpu_unless_the_launch_shards_them(
    machine, device, distributed, quantized, device_map, storage
):
    assert hw.load_device_map(machine, device, distributed, quantized=quantized) == device_map
    assert hw.quant_storage_dtype(machine, distributed) == storage


@pytest.mark.parametrize(
    "precision, distributed, quantized, trained, upcast",
    [
        ("no", "single", False, None, True),  # CPU: loaded in float32 already
        ("fp16", "single", False, "float32", True),  # T4 LoRA + embeddings saved whole from a float16 base
        ("fp16", "single", True, "float32", True),  # T4 QLoRA, also after trl's bfloat16 cast (dpo)
        ("bf16", "single", False, "float32", True),
        ("bf16", "ddp", True, "float32", True),
        ("fp16", "ddp", False, "float32", True),
        ("bf16", "fsdp", False, "float32", False),
        ("bf16", "fsdp", True, None, False),  # FSDP-QLoRA: one dtype per unit, no upcast
        ("fp16", "fsdp", True, None, False),
        ("bf16", "zero3", False, None, False),
        ("bf16", "zero3", True, None, False),
        ("bf16", "zero2", True, "float32", True),
    ],
)
def test_trained_parameters_are_float32_unless_a_shard_needs_one_dtype(
    precision, distributed, quantized, trained, upcast
):
    assert hw.trainable_dtype(precision, distributed, quantized) == trained
    assert hw.kbit_upcast(distributed) is upcast


@pytest.mark.parametrize(
    "gpus, distributed, note",
    [(0, "single", False), (1, "single", False), (2, "single", True), (8, "single", True), (8, "ddp", False)],
)
def test_one_process_on_a_multi_gpu_machine_trains_on_one_gpu_and_says_how_to_use_all(
    gpus, distributed, note
):
    said = hw.one_gpu_note(gpus, distributed)
    assert (said is not None) is note
    if note:
        assert f"--accelerate-config ddp --num-processes {gpus}" in said


@pytest.mark.parametrize(
    "distributed, quantized, lora, base_dtype_adapters, reentrant",
    [
        ("single", False, True, False, False),
        ("ddp", False, True, False, False),
        ("fsdp", False, True, False, False),
        ("fsdp", True, True, True, False),
        ("zero2", False, True, False, False),
        ("zero3", False, True, True, True),
        ("zero3", True, True, True, True),  # QLoRA under ZeRO-3: 4-bit stored in 16 bits, adapters too
        ("zero3", False, False, True, False),
    ],
)
def test_zero3_keeps_adapters_in_one_dtype_and_checkpoints_reentrant(
    distributed, quantized, lora, base_dtype_adapters, reentrant
):
    assert hw.adapter_in_base_dtype(distributed, quantized) is base_dtype_adapters
    assert hw.reentrant_checkpointing(distributed, lora) is reentrant


@pytest.mark.parametrize(
    "distributed, quant4, quant8, refused",
    [
        ("single", False, True, False),
        ("ddp", False, True, False),
        ("zero2", False, True, False),
        ("fsdp", False, True, True),
        ("zero3", False, True, True),
        ("fsdp", True, False, False),
        ("zero3", True, False, False),
        ("zero3", False, False, False),
    ],
)
def test_sharded_8bit_is_refused_with_the_alternative(distributed, quant4, quant8, refused):
    reason = hw.unsupported_combination(distributed, quant4=quant4, quant8=quant8)
    assert (reason is not None) is refused
    if refused:
        assert "--quant4" in reason and distributed in reason


@pytest.mark.parametrize(
    "environ, kind",
    [
        ({}, "single"),
        ({"WORLD_SIZE": "1"}, "single"),
        ({"WORLD_SIZE": "4", "LOCAL_RANK": "1"}, "ddp"),
        ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "true"}, "fsdp"),
        (
            {"WORLD_SIZE": "2", "ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"},
            "zero3",
        ),
        (
            {"WORLD_SIZE": "2", "ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"},
            "zero2",
        ),
    ],
)
def test_the_launch_kind_is_read_from_accelerate_environment(environ, kind):
    assert hw.distributed_kind(environ) == kind


def test_shipped_accelerate_configs_map_to_their_kind():
    import yaml

    from lingualift.train.launch import shipped_configs

    kinds = {
        name: hw.launch_kind(yaml.safe_load(path.read_text())) for name, path in shipped_configs().items()
    }
    assert kinds == {"cpu-ddp": "ddp", "ddp": "ddp", "fsdp": "fsdp", "zero2": "zero2", "zero3": "zero3"}


@pytest.mark.parametrize(
    "name, machine, precision",
    [
        ("ddp", T4, "fp16"),
        ("ddp", V100, "fp16"),
        ("ddp", A100, "bf16"),
        ("fsdp", H100, "bf16"),
        ("fsdp", T4, "fp16"),
        ("cpu-ddp", CPU, "no"),
        ("cpu-ddp", H100, "no"),
    ],
)
def test_accelerate_launch_takes_mixed_precision_from_the_policy_not_the_file(
    name, machine, precision, tmp_path
):
    from lingualift.train.config import TrainConfig
    from lingualift.train.launch import launch_command

    config = TrainConfig(model="m", data="d", out=str(tmp_path), accelerate_config=name)
    command = launch_command(config, tmp_path / "launch.json", machine)
    assert command[command.index("--mixed_precision") + 1] == precision


def test_a_sharded_8bit_launch_is_refused_before_anything_starts(tmp_path):
    from lingualift.errors import ConfigError
    from lingualift.train.config import TrainConfig
    from lingualift.train.launch import launch_command

    config = TrainConfig(model="m", data="d", out=str(tmp_path), accelerate_config="fsdp", quant8=True)
    with pytest.raises(ConfigError, match="--quant8 cannot be sharded under fsdp"):
        launch_command(config, tmp_path / "launch.json", H100)


@pytest.mark.parametrize(
    ("device", "backend", "ahead"),
    [
        ("cpu", "opus", False),
        ("cpu", "llm", False),
        ("cuda", "opus", True),
        ("cuda:1", "llm", True),
        ("cpu", "openai", True),
    ],
)
def test_translation_overlaps_batches_only_where_the_model_runs_off_the_cpu(device, backend, ahead):
    assert hw.overlap_generation(device, backend) is ahead


@pytest.mark.parametrize(("device", "packed"), [("cpu", True), ("cuda", False), ("cuda:1", False)])
def test_translation_packs_prompts_by_length_only_where_padding_costs_compute(device, packed):
    assert hw.pack_prefill(device) is packed


def test_machine_here_reads_the_process_rank(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert Machine.here({"WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == Machine(None, 2, 1)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: (7, 5) if index == 1 else (9, 0))
    here = Machine.here({"WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert here == Machine((7, 5), 4, 1) and not here.native_bf16


@pytest.mark.parametrize(
    "device, cores, threads",
    [
        ("cpu", 1, (1, 1)),
        ("cpu", 2, (2, 1)),
        ("cpu", 16, (2, 8)),
        ("cuda", 16, (1, 0)),
        ("cuda:1", 2, (1, 0)),
    ],
)
def test_ctranslate2_runs_two_batches_at_once_on_a_cpu_and_one_on_a_gpu(device, cores, threads):
    assert hw.ct2_threads(device, cores) == threads


@pytest.mark.parametrize(
    "device, cores, rows",
    [
        ("cpu", 1, 16),
        ("cpu", 2, 16),  # two workers of one thread: what was measured
        ("cpu", 16, 128),  # two workers of eight threads: 16 rows a thread
        ("cuda", 16, None),  # T4, A100, H100 alike: a GPU step costs as much for 1 row as for 256
        ("cuda:1", 2, None),
    ],
)
def test_ctranslate2_splits_a_chat_models_batch_into_like_length_calls_on_a_cpu_only(device, cores, rows):
    _, intra = hw.ct2_threads(device, cores)
    assert hw.ct2_generator_rows(device, intra) == rows


@pytest.mark.parametrize(
    "device, device_map", [("cpu", None), ("cuda", {"": "cuda"}), ("cuda:1", {"": "cuda:1"})]
)
def test_models_that_generate_load_straight_onto_the_gpu_asked_for(device, device_map):
    assert hw.inference_device_map(device) == device_map


@pytest.mark.parametrize(
    "machine, device, quant4, quant8, bnb, refused",
    [
        (CPU, "cpu", False, False, None, None),
        (CPU, "cpu", True, False, "0.50.2", None),  # bitsandbytes' CPU backend
        (CPU, "cpu", True, False, "0.48.1", "needs bitsandbytes 0.49 or newer"),
        (CPU, "cpu", False, True, "0.50.2", "--quant8 runs on a CUDA GPU only"),
        (CPU, "cpu", True, False, None, "need the bitsandbytes package"),
        (T4, "cuda", True, False, "0.45.0", None),
        (T4, "cuda", False, True, "0.45.0", None),
        (H100, "cpu", False, True, "0.50.2", "--quant8 runs on a CUDA GPU only"),  # --device cpu on a GPU box
        (RANK2_OF_4_H100, "cuda:2", True, False, None, "need the bitsandbytes package"),
    ],
)
def test_quantization_runs_where_bitsandbytes_can(machine, device, quant4, quant8, bnb, refused):
    reason = hw.quantization_refusal(machine, device, quant4=quant4, quant8=quant8, bnb_version=bnb)
    assert (reason is None) if refused is None else (refused in reason)


@pytest.mark.parametrize(
    "machine, inference, quant_compute, precision, lora_load",
    [
        (T4, "float32", "float32", "no", "float32"),  # no native bf16: float16 would overflow
        (V100, "float32", "float32", "no", "float32"),
        (A100, "bfloat16", "bfloat16", "bf16", "bfloat16"),
        (H100, "bfloat16", "bfloat16", "bf16", "bfloat16"),
        (CPU, "float32", "float32", "no", "float32"),
    ],
)
def test_bf16_only_families_never_compute_in_float16(machine, inference, quant_compute, precision, lora_load):
    device = hw.default_device(machine)
    assert all(hw.bf16_only(family) for family in ("gemma2", "gemma3", "gemma3_text", "t5"))
    assert not hw.bf16_only("llama") and not hw.bf16_only(None)
    assert hw.inference_dtype(machine, device, bf16_only=True) == inference
    assert hw.quant_compute_dtype(machine, bf16_only=True) == quant_compute
    assert hw.training_precision(machine, device, bf16_only=True) == precision
    assert hw.training_load_dtype(machine, device, "lora", bf16_only=True) == lora_load


@pytest.mark.parametrize(
    "machine, installed, refused",
    [
        (CPU, True, "runs on a CUDA GPU only"),
        (T4, True, "needs an Ampere or newer GPU"),
        (V100, True, "needs an Ampere or newer GPU"),
        (A100, False, "needs the flash-attn package"),
        (A100, True, None),
        (H100, True, None),
    ],
)
def test_flash_attention_runs_where_the_gpu_and_package_allow(machine, installed, refused):
    reason = hw.flash_attention_refusal(machine, installed=installed)
    assert (reason is None) if refused is None else (refused in reason)
