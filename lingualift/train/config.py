"""Options of `lingualift train` (and the pipeline's `train:` section), declared once."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["sft", "dpo", "orpo", "cpt"] = Field("sft", description="What to train")
    model: str = Field(description="Base model: hub id, local directory, or `demo`")
    data: str = Field(description="Threads (sft), pairs (dpo/orpo) or raw text (cpt)")
    out: str = Field(description="Output directory: adapter or full weights, tokenizer, report")
    full: bool = Field(False, description="Train all weights instead of a LoRA adapter")
    quant4: bool = Field(False, description="QLoRA: 4-bit base weights (bitsandbytes, CUDA only)")
    quant8: bool = Field(False, description="8-bit base weights (bitsandbytes, CUDA only)")
    lora_r: int = Field(16, gt=0, description="LoRA rank")
    lora_alpha: int = Field(32, gt=0, description="LoRA alpha")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: str = Field(
        "all-linear", description="LoRA targets: all-linear, or comma-separated names"
    )
    max_seq_length: int = Field(512, gt=8, description="Tokens per sample (LLaMa2lang's 512)")
    epochs: float = Field(2.0, gt=0, description="Epochs")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: use epochs)")
    batch_size: int = Field(4, gt=0, description="Per-device batch size")
    grad_accum: int = Field(1, gt=0, description="Gradient accumulation steps")
    lr: float = Field(2e-4, gt=0, description="Learning rate")
    assistant_only_loss: bool = Field(True, description="SFT loss on assistant turns only (else all tokens)")
    save_steps: int = Field(50, gt=0, description="Checkpoint every N steps")
    resume: bool = Field(False, description="Continue from the last checkpoint in OUT/checkpoints")
    eval_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the data held out for evaluation")
    seed: int = Field(42, description="Random seed")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.quant4 and self.quant8:
            raise ValueError("quant4 and quant8 exclude each other")
        if self.full and (self.quant4 or self.quant8):
            raise ValueError(
                "full fine-tuning cannot train quantized weights: drop --full or the quantization"
            )
        return self
