"""training_report.json: what one training run did and how it was set up (rank 0 writes it)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from lingualift.reports import Number, StageReport


class TrainingReport(StageReport):
    method: Optional[str] = None  # sft, dpo, orpo, cpt
    model: Optional[str] = None
    data: Optional[str] = None
    mode: Optional[str] = None  # lora, qlora, full
    data_stats: dict[str, Any] = Field(
        default_factory=dict
    )  # conversations, truncated, languages, vocabulary
    steps: Optional[int] = None
    world_size: int = 1
    epochs: Optional[Number] = None
    first_loss: Optional[float] = None
    final_loss: Optional[float] = None
    final_eval_loss: Optional[float] = None
    best_eval_loss: Optional[float] = None
    non_pad_tokens_seen: Optional[int] = None
    non_pad_tokens_per_second: Optional[Number] = None
    trainable_parameters: Optional[int] = None
    total_parameters: Optional[int] = None
    peak_memory_mb: Optional[Number] = None
    train_seconds: Optional[Number] = None
    wall_seconds: Optional[Number] = None
    loss_history: list[dict[str, Number]] = Field(
        default_factory=list
    )  # step, epoch, loss, eval_loss, learning_rate; dpo/orpo: rewards/margins, rewards/accuracies
    config: dict[str, Any] = Field(default_factory=dict)  # the TrainConfig it ran with
    versions: dict[str, str] = Field(default_factory=dict)
    precision: Optional[str] = None
    distributed: Optional[str] = None
    ranks_in_save: Optional[int] = None
    setup: dict[str, Any] = Field(default_factory=dict)  # dtypes, device_map, checkpointing, optimizer groups
