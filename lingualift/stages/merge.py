"""`lingualift export merge` and the pipeline's export step: the last LoRA adapter folded into its base."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import BaseModel, ConfigDict, Field

from lingualift.export import MergeConfig
from lingualift.stage import Pipeline, Stage, Step
from lingualift.stages.train import METHODS


def command(config: MergeConfig) -> None:
    """Merge a LoRA adapter into its base: plain safetensors weights + tokenizer + chat template,
    loadable by anything that loads a transformers model (and llama.cpp's GGUF converter)."""
    from lingualift.export import merge_adapter

    merge_adapter(config, echo=typer.echo)


class ExportSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    merge: Optional[dict[str, Any]] = Field(
        None, description="`lingualift export merge` options: fold the final adapter into its base"
    )


FIELDS = {"export": (ExportSection, Field(default_factory=ExportSection))}


def plan(config, plan) -> None:
    if config.export.merge is None:
        return
    trained = plan.of("train")
    configured = [method for method in METHODS if getattr(config.train, method) is not None]
    if not trained and configured and plan.problems:
        return  # the training section's own problem says what to fix
    if not trained or trained[-1].config.full:
        plan.problems.append(
            "export.merge: needs a LoRA training stage to merge (full weights are already merged)"
        )
        return
    links = {"adapter": trained[-1].config.out, "out": str(plan.work / "export" / "merged")}
    built = plan.build("export.merge", MergeConfig, config.export.merge, links)
    if built is not None:
        plan.steps.append(Step("export", STAGE, built, upstream=(trained[-1].name,)))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.export import merge_adapter

    return {"merged": str(merge_adapter(step.config, echo=echo))}


def figure(summary: dict) -> str:
    return ", ".join(f"{kind} → {path}" for kind, path in summary.items())


STAGE = Stage(
    "merge",
    MergeConfig,
    command=command,
    command_name="export merge",
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
