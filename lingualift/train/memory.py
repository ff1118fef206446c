"""A memory estimate before loading: parameters + gradients + optimizer state + activations.

Rough on purpose (it is a sanity check, not a profiler): bytes per parameter by mode, and
activations after Korthikanti et al. (2022), s·b·h·L·(34 + 5·a·s/h) bytes without checkpointing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# weights + gradients + Adam moments (+ fp32 master copy under mixed precision), per parameter
FULL_BYTES = 16
BASE_WEIGHT_BYTES = {"cpu": 4, "cuda": 2}
QUANT_BYTES = {"quant4": 0.55, "quant8": 1.1}
# per logit: the 16-bit logits, their float32 copy for the loss, its log-softmax and the gradient
LOGIT_BYTES = 2 + 4 + 4 + 4


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    trainable: int
    weights_gb: float
    training_state_gb: float
    activations_gb: float

    @property
    def total_gb(self) -> float:
        return self.weights_gb + self.training_state_gb + self.activations_gb


def estimate(
    *,
    parameters: int,
    hidden: int,
    layers: int,
    heads: int,
    batch: int,
    seq: int,
    mode: str,
    device: str,
    lora_fraction: float = 0.01,
    unquantized: int = 0,
    trained_whole: int = 0,
    checkpointing: bool = False,
    vocab: int = 0,
) -> MemoryEstimate:
    """`unquantized`: parameters bitsandbytes leaves whole (embeddings, output layer), which peft's
    prepare_model_for_kbit_training casts to float32 for QLoRA (~2 GiB for Llama-3-8B's embeddings).
    `trained_whole`: parameters LoRA trains whole (modules_to_save: the embeddings after `tokenizer
    extend`), each a float32 copy with its gradient and Adam moments beside the frozen original.
    `checkpointing`: activations kept only at each layer's input, one layer's recomputed at a time.
    `vocab`: the logits and the loss's float32 buffers, batch x seq x vocab each — several GiB at
    Llama 3's 128k or Gemma 3's 262k vocabulary, whatever the checkpointing."""
    if mode == "full":
        weights, trainable = parameters * FULL_BYTES / 4, parameters
        state = parameters * FULL_BYTES * 3 / 4
    else:
        per_param = QUANT_BYTES.get(mode, BASE_WEIGHT_BYTES["cuda" if device.startswith("cuda") else "cpu"])
        trainable = int(parameters * lora_fraction) + trained_whole
        weights, state = parameters * per_param, trainable * FULL_BYTES
        if mode in QUANT_BYTES:
            weights += unquantized * (4 - per_param)
    per_layer = seq * batch * hidden * (34 + 5 * heads * seq / hidden)
    activations = per_layer + seq * batch * hidden * 2 * layers if checkpointing else per_layer * layers
    activations += seq * batch * vocab * LOGIT_BYTES
    gb = 1024**3
    return MemoryEstimate(parameters, trainable, weights / gb, state / gb, activations / gb)


def visible_memory_gb(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.mem_get_info(torch.device(device))[1] / 1024**3
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3


def free_memory_gb() -> float:
    """Memory the kernel can give this process now (MemAvailable), else the machine's total."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return visible_memory_gb("cpu")


def count_parameters(model_path: str) -> int | None:
    """Parameters of a model, counted on the meta device (nothing is allocated); None when its
    config cannot be read."""
    try:
        from accelerate import init_empty_weights
        from transformers import AutoConfig, AutoModelForCausalLM

        with init_empty_weights():
            empty = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(model_path))
    except Exception:  # an estimate must never stop the work; the loader reports real problems
        return None
    return sum(p.numel() for p in empty.parameters())


def check_fits(
    model_path: str,
    *,
    batch: int,
    seq: int,
    mode: str,
    device: str,
    echo=print,
    available_gb: float | None = None,
    trains_embeddings: bool = False,
    checkpointing: bool = False,
) -> MemoryEstimate | None:
    """Count the parameters on the meta device (nothing is allocated) and warn when it cannot fit."""
    try:
        from accelerate import init_empty_weights
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(model_path)
        with init_empty_weights():
            empty = AutoModelForCausalLM.from_config(config)
        parameters = sum(p.numel() for p in empty.parameters())
        whole = {
            id(m.weight): m.weight.numel()
            for m in (empty.get_input_embeddings(), empty.get_output_embeddings())
            if m is not None
        }
    except Exception:  # an estimate must never stop training; the loader reports real problems
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    result = estimate(
        parameters=parameters,
        hidden=text.hidden_size,
        layers=text.num_hidden_layers,
        heads=text.num_attention_heads,
        batch=batch,
        seq=seq,
        mode=mode,
        device=device,
        unquantized=sum(whole.values()),
        trained_whole=sum(whole.values()) if trains_embeddings and mode != "full" else 0,
        checkpointing=checkpointing,
        vocab=getattr(text, "vocab_size", 0) or 0,
    )
    available = available_gb if available_gb is not None else visible_memory_gb(device)
    if result.total_gb > 0.9 * available:
        echo(
            f"warning: training needs about {result.total_gb:.1f} GiB ({result.weights_gb:.1f} weights, "
            f"{result.training_state_gb:.1f} gradients/optimizer, {result.activations_gb:.1f} activations) but "
            f"{device} has {available:.1f} GiB: lower --batch-size/--max-seq-length, use LoRA or --quant4"
        )
    return result
