"""Every decision that depends on the hardware, as pure functions of what the machine is.

Commands ask these instead of testing `torch.cuda` inline, so each decision is table-tested on a
CPU machine for every GPU kind users have: a Colab T4 (compute capability 7.5, no native
bfloat16: `torch.cuda.is_bf16_supported()` counts a slow emulation), an A100 (8.0), an H100
(9.0), one or several processes, and the accelerate launcher's kinds (ddp, fsdp, zero2, zero3).
Only `Machine.here()` and `distributed_kind()`'s default environment read the real machine.
Dtypes are names ("bfloat16"), turned into torch dtypes by `torch_dtype` at the edge.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Distributed = Literal["single", "ddp", "fsdp", "zero2", "zero3"]
DtypeName = Literal["float32", "bfloat16", "float16"]
Precision = Literal["bf16", "fp16", "no"]


@dataclass(frozen=True)
class Machine:
    """What the process runs on: a CUDA GPU's compute capability (None without one) and its place
    among the processes of a launch."""

    capability: tuple[int, int] | None = None
    world_size: int = 1
    local_rank: int = 0

    @property
    def cuda(self) -> bool:
        return self.capability is not None

    @property
    def native_bf16(self) -> bool:
        """bfloat16 in hardware: Ampere (8.0) and later. Older GPUs only emulate it, many times slower."""
        return self.capability is not None and self.capability >= (8, 0)

    @classmethod
    def here(cls, environ: Mapping[str, str] | None = None) -> Machine:
        import torch

        environ = os.environ if environ is None else environ
        world, rank = int(environ.get("WORLD_SIZE", "1")), int(environ.get("LOCAL_RANK", "0"))
        if not torch.cuda.is_available():
            return cls(None, world, rank)
        index = rank if rank < torch.cuda.device_count() else 0
        return cls(tuple(torch.cuda.get_device_capability(index)), world, rank)


CPU = Machine()
T4 = Machine((7, 5))
V100 = Machine((7, 0))
A100 = Machine((8, 0))
H100 = Machine((9, 0))


def is_cuda(device: str) -> bool:
    return device.startswith("cuda")


def default_device(machine: Machine, requested: str | None = None) -> str:
    """The device asked for; else, under a launch of several processes, this process's own GPU
    (cuda:LOCAL_RANK); else cuda when there is a GPU; else cpu."""
    if requested:
        return requested
    if not machine.cuda:
        return "cpu"
    return f"cuda:{machine.local_rank}" if machine.world_size > 1 else "cuda"


# Families trained in bfloat16 whose float16 activations overflow (inf/NaN): where bfloat16 is not
# native (T4, V100) they run in float32 instead of float16.
BF16_ONLY_FAMILIES = frozenset(
    {"t5", "mt5", "umt5", "gemma2", "gemma3", "gemma3_text", "gemma3n", "gemma3n_text"}
)


def bf16_only(model_type: str | None) -> bool:
    """Whether a model of this `config.model_type` must not compute in float16."""
    return model_type in BF16_ONLY_FAMILIES


def inference_dtype(machine: Machine, device: str, *, bf16_only: bool = False) -> DtypeName:
    """Weights and activations for generation: float32 on CPU; bfloat16 on a GPU that has it, else
    float16 — or float32 for models trained in bfloat16 whose activations overflow float16 (T5/MADLAD)."""
    if not is_cuda(device):
        return "float32"
    if machine.native_bf16:
        return "bfloat16"
    return "float32" if bf16_only or not machine.cuda else "float16"


def overlap_generation(device: str, backend: str) -> bool:
    """Translate: generate the next batch while the previous one's quality checks and store commit
    run. Where the model runs elsewhere (a GPU, an endpoint) the CPU is idle meanwhile; on the CPU
    both compete for the same cores (measured 0.91-0.96x on 2 cores: benchmarks/translate.py
    overlap), so there the batches run in line."""
    return backend == "openai" or is_cuda(device)


def pack_prefill(device: str) -> bool:
    """Translate (transformers): forward a batch's prompts in groups of like length instead of padded
    to the longest. On a CPU a padded position costs what a real one does (SmolLM2-135M, 2 cores:
    a first batch of 99 prompts padded to 48 tokens holds 43% padding); a GPU computes the padded
    batch in one pass at little extra cost, and more passes would each cost a round of kernels."""
    return not is_cuda(device)


def ct2_threads(device: str, cores: int) -> tuple[int, int]:
    """CTranslate2's (inter_threads, intra_threads): batches run at once, and threads per batch. On
    CPU two batches at once, each on half the cores: a decoding step's matrix products are too small
    to spread over cores well (2 cores, SmolLM2-135M int8: single-row batches 2.0x, full batches
    1.27x against one batch on both cores), and the engine keeps that many batches in flight. On a
    GPU one batch at a time (CTranslate2's default; its CPU-side threads left to it)."""
    if is_cuda(device):
        return 1, 0
    if cores < 2:
        return 1, 1
    return 2, cores // 2


def ct2_generator_rows(device: str, intra_threads: int) -> int | None:
    """The most rows one CTranslate2 Generator call takes (a larger batch is split into calls of
    like prompt length, run side by side on the workers); None: the whole batch in one call.

    Generator forwards a batch's prompts at once only up to the shortest one's length and feeds the
    rest of each longer prompt through the decoding loop, a step per token. On a CPU a step costs 4-8x
    a forwarded token, and a batch of 99 short segments fed 2,443 such steps beside the 4,225 tokens
    the first pass wrote (demo model, 60 chat-shaped rows); calls of 16 like-length rows fed 561
    (2 cores, one thread per worker: faster in 3 of 4 paired runs, medians 27.5 s and 25.4 s;
    with more threads per worker, each thread keeps its 16 rows; not measured). On a GPU a step of
    one row costs what one of 256 does: one call."""
    if is_cuda(device):
        return None
    return 16 * max(1, intra_threads)


def available_cores() -> int:
    """The CPU cores this process may run on (a container's or taskset's limit, not the machine's)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def quant_compute_dtype(machine: Machine, *, bf16_only: bool = False) -> DtypeName:
    """bitsandbytes 4-bit compute dtype (and the dtype of the layers it leaves unquantized); float32
    for a bf16-only family where bfloat16 is not native, and on the CPU (bitsandbytes' CPU backend)."""
    if machine.native_bf16:
        return "bfloat16"
    return "float32" if bf16_only or not machine.cuda else "float16"


def quant_storage_dtype(machine: Machine, distributed: Distributed) -> DtypeName | None:
    """FSDP and ZeRO-3 shard flat parameters of one dtype: 4-bit weights must be stored in the
    compute dtype there (the peft/accelerate QLoRA-FSDP recipe); elsewhere bitsandbytes' default."""
    return quant_compute_dtype(machine) if distributed in ("fsdp", "zero3") else None


def training_precision(machine: Machine, device: str, *, bf16_only: bool = False) -> Precision:
    """Mixed precision for the Trainer and `accelerate launch`: bf16 where native, else fp16 (with the
    Trainer's loss scaling) on a GPU — none for a bf16-only family there — none on CPU."""
    if not is_cuda(device):
        return "no"
    if machine.native_bf16:
        return "bf16"
    return "no" if bf16_only else "fp16"


def training_load_dtype(machine: Machine, device: str, mode: str, *, bf16_only: bool = False) -> DtypeName:
    """The dtype the base weights are loaded in for training (`mode`: full, lora, quant4, quant8).

    Full training keeps float32 master weights on every GPU: the Trainer's bf16/fp16 mixed precision
    computes in 16 bits over them, while pure bfloat16 weights lose updates below ~1e-3 of a weight
    (an lr-2e-5 step rounds away), and the GradScaler refuses float16 gradients. LoRA trains float32
    adapters (see trainable_dtype) over a 16-bit frozen base."""
    if not is_cuda(device) or mode == "full":
        return "float32"
    if mode in ("quant4", "quant8"):
        return quant_compute_dtype(machine, bf16_only=bf16_only)
    return inference_dtype(machine, device, bf16_only=bf16_only)


def trainable_dtype(precision: Precision, distributed: Distributed, quantized: bool) -> DtypeName | None:
    """The dtype every trained parameter is cast to after the adapters are attached; None: as loaded.

    Under mixed precision trained weights are float32: the fp16 GradScaler refuses float16 gradients
    ("Attempting to unscale FP16 gradients"), which is what embeddings saved whole (modules_to_save)
    copied from a float16 base on a T4 would have; bfloat16 ones would lose small updates. Where the
    launch needs one dtype per shard (adapter_in_base_dtype), they stay as loaded."""
    if precision == "no" or adapter_in_base_dtype(distributed, quantized):
        return None
    return "float32"


def sharded(distributed: Distributed) -> bool:
    """FSDP and ZeRO-3 split every parameter across the processes (the model is built once, by the
    launcher, not on each rank); ddp and ZeRO-2 keep a whole copy per process."""
    return distributed in ("fsdp", "zero3")


def load_device_map(machine: Machine, device: str, distributed: Distributed, *, quantized: bool):
    """`device_map` for from_pretrained in training and generation (None: transformers' default).

    Weights go straight from disk to this process's device, never a whole copy through host RAM
    first (~16 GB per rank for an 8B model in bfloat16). A 4/8-bit model must sit on its own
    process's GPU (accelerate refuses one on another rank's device). Sharded launches leave placement
    to the launcher (FSDP's cpu_ram_efficient_loading, ZeRO-3's zero.Init), which needs None."""
    if sharded(distributed):
        return None
    if quantized:  # bitsandbytes places its layers on the device the map names: the CPU, or this rank's GPU
        return {"": machine.local_rank} if is_cuda(device) else {"": "cpu"}
    return {"": device} if is_cuda(device) else None


def inference_device_map(device: str) -> dict[str, str] | None:
    """`device_map` for a model loaded to generate or score (chat, serve, eval, translate): the
    weights straight onto the GPU asked for; None on a CPU (transformers' default)."""
    return {"": device} if is_cuda(device) else None


def kbit_upcast(distributed: Distributed) -> bool:
    """peft's prepare_model_for_kbit_training casts every parameter it does not quantize to float32.
    Under FSDP/ZeRO-3 a shard must hold one dtype (the 4-bit weights stored in the compute dtype):
    no upcast there, as trl does for "sharded QLoRA"; elsewhere the upcast keeps norms stable."""
    return not sharded(distributed)


def adapter_in_base_dtype(distributed: Distributed, quantized: bool) -> bool:
    """ZeRO-3 gathers parameters into buffers of one dtype, and FSDP flattens a unit's parameters into
    one: LoRA adapters that peft upcasts to float32 on a 16-bit base fail there (ZeRO-3 at the first
    optimizer step; FSDP over a 4-bit base stored in 16 bits with "Must flatten tensors with uniform
    dtype"), so they stay in the base dtype (as trl does)."""
    return distributed == "zero3" or (distributed == "fsdp" and quantized)


def reentrant_checkpointing(distributed: Distributed, lora: bool) -> bool:
    """PEFT under ZeRO-3 needs reentrant activation checkpointing (trl forces it); elsewhere the
    non-reentrant kind, which works with a frozen base."""
    return distributed == "zero3" and lora


def one_gpu_note(gpus: int, distributed: Distributed) -> str | None:
    """A single process on a machine with several GPUs: the Trainer would wrap the model in
    nn.DataParallel (slow, and for 4/8-bit models a batch multiplied onto one GPU); train on the
    first GPU and say how to use them all. None when there is nothing to say."""
    if distributed != "single" or gpus < 2:
        return None
    return (
        f"this machine has {gpus} GPUs and training runs on the first one; to train on all of them: "
        f"--accelerate-config ddp --num-processes {gpus}"
    )


# bitsandbytes runs 4-bit (NF4) on the CPU from this version on (its CPU backend).
BNB_CPU_4BIT = (0, 49)


def quantization_refusal(
    machine: Machine, device: str, *, quant4: bool, quant8: bool, bnb_version: str | None
) -> str | None:
    """Why --quant4/--quant8 cannot run here (None: they can): bitsandbytes missing, 8-bit off a GPU,
    or 4-bit on the CPU with a bitsandbytes older than its CPU backend."""
    if not (quant4 or quant8):
        return None
    if bnb_version is None:
        return (
            "--quant4/--quant8 need the bitsandbytes package: pip install 'lingualift[gpu]' (or bitsandbytes)"
        )
    if is_cuda(device) and machine.cuda:
        return None
    if quant8:
        return "--quant8 runs on a CUDA GPU only (bitsandbytes); on the CPU use --quant4, or drop the flag"
    found = tuple(int(part) for part in bnb_version.split(".")[:2] if part.isdigit())
    if found < BNB_CPU_4BIT:
        return (
            f"--quant4 on the CPU needs bitsandbytes {'.'.join(map(str, BNB_CPU_4BIT))} or newer (this is "
            f"{bnb_version}): pip install -U bitsandbytes, or drop the flag"
        )
    return None


def flash_attention_refusal(machine: Machine, *, installed: bool) -> str | None:
    """Why --attn-implementation flash_attention_2 cannot run here (None: it can): it needs the
    flash-attn package and an Ampere or newer GPU (A100, H100; not a T4 or V100)."""
    if not machine.cuda:
        return "flash_attention_2 runs on a CUDA GPU only: use sdpa (the default) on this machine"
    if machine.capability < (8, 0):
        return (
            f"flash_attention_2 needs an Ampere or newer GPU (compute capability 8.0+); this one is "
            f"{machine.capability[0]}.{machine.capability[1]}: use sdpa (the default)"
        )
    if not installed:
        return "flash_attention_2 needs the flash-attn package (pip install flash-attn), or use sdpa"
    return None


def unsupported_combination(distributed: Distributed, *, quant4: bool, quant8: bool) -> str | None:
    """A launch that cannot work, as the reason to refuse it before anything loads; None when fine."""
    if quant8 and distributed in ("fsdp", "zero3"):
        return (
            f"--quant8 cannot be sharded under {distributed} (bitsandbytes 8-bit weights are not "
            "FSDP/ZeRO-3 parameters): use --quant4 (QLoRA), or ddp/zero2"
        )
    return None


def distributed_kind(environ: Mapping[str, str] | None = None) -> Distributed:
    """How this process was launched, from the variables `accelerate launch` sets."""
    environ = os.environ if environ is None else environ
    if environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "fsdp"
    if environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true":
        return "zero3" if environ.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3" else "zero2"
    return "ddp" if int(environ.get("WORLD_SIZE", "1")) > 1 else "single"


def launch_kind(settings: Mapping) -> Distributed:
    """The kind an accelerate config file (its YAML as a dict) launches."""
    kind = settings.get("distributed_type")
    if kind == "FSDP":
        return "fsdp"
    if kind == "DEEPSPEED":
        stage = (settings.get("deepspeed_config") or {}).get("zero_stage")
        return "zero3" if stage == 3 else "zero2"
    return "ddp"


def torch_dtype(name: DtypeName):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]
