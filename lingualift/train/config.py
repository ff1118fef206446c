"""Options of `lingualift train` (and the pipeline's `train:` section), declared once."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lingualift.stage import STEP_FOLDER, Link


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Annotated[
        Literal["sft", "dpo", "orpo", "cpt"], Link("the train section's key (cpt, sft, dpo, orpo)")
    ] = Field("sft", description="sft, dpo, orpo, or cpt (continued pre-training on raw text)")
    model: Annotated[str, Link("model, then each training step's output")] = Field(
        description="Base model: hub id, local directory, or `demo`"
    )
    data: Annotated[str, Link("the threads steps' output")] = Field(
        description="Threads (sft), preference pairs (dpo/orpo), or raw text: .txt files, a dataset with `text` (cpt); "
        "sft: several threads datasets separated by commas (e.g. one per language)"
    )
    out: Annotated[str, Link(STEP_FOLDER)] = Field(
        description="Output directory: adapter or full weights, tokenizer, report"
    )
    full: bool = Field(False, description="Train all weights (--full) or a LoRA adapter (--lora)")
    quant4: bool = Field(
        False, description="QLoRA: 4-bit base weights (bitsandbytes; on the CPU too, slowly)"
    )
    quant8: bool = Field(False, description="8-bit base weights (bitsandbytes, CUDA only)")
    lora_r: int = Field(16, gt=0, description="LoRA rank")
    lora_alpha: int = Field(32, gt=0, description="LoRA alpha")
    lora_dropout: float = Field(0.05, ge=0, lt=1, description="LoRA dropout")
    target_modules: str = Field(
        "all-linear", description="LoRA targets: all-linear, or comma-separated names"
    )
    chat_template: Optional[str] = Field(
        None,
        description="For a model without one (a base checkpoint): chatml, llama3, gemma, or a Jinja file; "
        "special tokens it needs are added and their embeddings trained; saved with the result",
    )
    train_embeddings: Optional[bool] = Field(
        None,
        description="LoRA: also train the embedding and output layers (modules_to_save); default: on for a "
        "model whose vocabulary `lingualift tokenizer extend` grew (its new rows must learn)",
    )
    text_unit: Literal["files", "paragraphs", "lines"] = Field(
        "files",
        description="cpt on .txt/.md: what one document is (an eos follows each): a whole file, a "
        "blank-line-separated paragraph, or a line",
    )
    max_seq_length: int = Field(
        512, gt=8, description="Tokens per sample (LLaMa2lang's 512); warns when most samples are cut"
    )
    max_prompt_length: Optional[int] = Field(
        None,
        gt=0,
        description="dpo/orpo: shorten longer prompts (oldest turns first, then the start of the text)",
    )
    packing: bool = Field(
        False,
        description="sft: pack several conversations into each max-seq-length row; attention stays "
        "within each conversation (position ids restart), so no padding is computed",
    )
    gradient_checkpointing: bool = Field(False, description="Recompute activations: less memory, ~30% slower")
    epochs: float = Field(2.0, gt=0, description="Epochs")
    max_steps: int = Field(-1, description="Stop after this many optimizer steps (-1: use epochs)")
    batch_size: int = Field(4, gt=0, description="Per-device batch size")
    grad_accum: int = Field(1, gt=0, description="Gradient accumulation steps")
    lr: float = Field(2e-4, gt=0, description="Learning rate")
    optimizer: Literal[
        "adamw_torch",
        "adamw_torch_fused",
        "adamw_8bit",
        "paged_adamw_8bit",
        "paged_adamw_32bit",
        "adafactor",
        "sgd",
    ] = Field("adamw_torch", description="Optimizer, by transformers' name (Suzume: paged_adamw_8bit)")
    scheduler: Literal[
        "linear",
        "cosine",
        "cosine_with_restarts",
        "constant",
        "constant_with_warmup",
        "polynomial",
        "inverse_sqrt",
    ] = Field("linear", description="Learning-rate schedule")
    warmup_steps: int = Field(0, ge=0, description="Linear warmup over this many steps (Suzume: 10)")
    warmup_ratio: float = Field(
        0.0, ge=0, lt=1, description="Linear warmup over this share of the steps (the Dutch Llama 2: 0.03)"
    )
    adam_beta1: float = Field(0.9, gt=0, lt=1, description="Adam beta1")
    adam_beta2: float = Field(0.999, gt=0, lt=1, description="Adam beta2 (the Dutch Llama 2: 0.95)")
    weight_decay: float = Field(0.0, ge=0, description="Weight decay")
    max_grad_norm: float = Field(1.0, ge=0, description="Gradient clipping norm (0: none)")
    group_by_length: bool = Field(
        False, description="Batch samples of similar length together (Bactrian-X): less padding"
    )
    attn_implementation: Optional[Literal["sdpa", "flash_attention_2", "eager"]] = Field(
        None, description="Attention kernel (default: transformers' choice, sdpa where it can)"
    )
    report_to: Literal["none", "tensorboard", "wandb"] = Field(
        "none",
        description="Experiment tracking: tensorboard (event files under OUT/checkpoints/runs) or wandb",
    )
    embedding_lr: Optional[float] = Field(
        None,
        gt=0,
        description="LoRA with trained embeddings: their learning rate (default: a tenth of --lr)",
    )
    assistant_only_loss: bool = Field(True, description="SFT loss on assistant turns only (else all tokens)")
    save_steps: int = Field(50, gt=0, description="Checkpoint every N steps")
    resume: Annotated[bool, Link("the step's folder (a killed step resumes)")] = Field(
        False, description="Continue from the last checkpoint in OUT/checkpoints"
    )
    replay: Optional[str] = Field(
        None,
        description="sft: source-language (e.g. English) conversations mixed in so "
        "the model keeps that language; a dataset with `messages`",
    )
    replay_ratio: float = Field(
        0.1, ge=0, lt=1, description="Share of the training conversations taken from --replay (seeded sample)"
    )
    mix: Optional[Literal["proportional", "uniform", "temperature"]] = Field(
        None,
        description="sft: resample conversations per language (`lang` column): proportional to each "
        "language's size, uniform, or temperature-scaled (size^(1/T))",
    )
    mix_temperature: float = Field(
        3.0, ge=1, description="T for --mix temperature (1: proportional; larger: nearer uniform)"
    )
    mix_size: Optional[int] = Field(
        None, gt=0, description="Conversations after --mix (default: as many as there are)"
    )
    eval_ratio: float = Field(0.0, ge=0, lt=1, description="Share of the data held out for evaluation")
    eval_size: Optional[int] = Field(
        None, gt=0, description="Rows held out for evaluation (Bactrian-X: 2,000), instead of a share"
    )
    eval_steps: Optional[int] = Field(
        None, gt=0, description="Evaluate every N steps (the Dutch Llama 2: 20; default: every epoch)"
    )
    eval_split: Optional[str] = Field(None, description="Evaluate on this split of --data instead")
    seed: int = Field(42, description="Random seed")
    accelerate_config: Optional[str] = Field(
        None,
        description="Launch through accelerate: ddp, fsdp, zero2, zero3, cpu-ddp (shipped configs) or a YAML path",
    )
    num_processes: Optional[int] = Field(
        None, gt=0, description="With --accelerate-config: processes to start"
    )
    push_to_hub: Optional[str] = Field(
        None, description="Push the result to this hub repo (token from HF_TOKEN) with a model card"
    )
    private: bool = Field(True, description="Create the hub repo private")

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.quant4 and self.quant8:
            raise ValueError("quant4 and quant8 exclude each other")
        if self.full and (self.quant4 or self.quant8):
            raise ValueError(
                "full fine-tuning cannot train quantized weights: drop --full or the quantization"
            )
        if sum(bool(x) for x in (self.eval_ratio, self.eval_split, self.eval_size)) > 1:
            raise ValueError("eval_ratio, eval_size and eval_split exclude each other")
        if self.eval_steps and not (self.eval_ratio or self.eval_split or self.eval_size):
            raise ValueError("eval_steps needs something to evaluate on: eval_size, eval_ratio or eval_split")
        if self.warmup_steps and self.warmup_ratio:
            raise ValueError("warmup_steps and warmup_ratio exclude each other")
        if self.replay and self.method != "sft":
            raise ValueError(
                "replay applies to sft (conversations); for cpt, add source-language text to --data"
            )
        if (self.mix or "," in self.data) and self.method != "sft":
            raise ValueError("several datasets and --mix apply to sft (conversations)")
        if self.packing and self.method != "sft":
            raise ValueError("packing applies to sft (cpt always packs; dpo/orpo pairs are not packed)")
        return self
