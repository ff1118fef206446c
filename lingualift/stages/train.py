"""`lingualift train` and the pipeline's training steps: cpt, sft, then dpo or orpo, each starting
from the one before."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import BaseModel, ConfigDict, Field

from lingualift.sections import Section, fmt, pick, png
from lingualift.stage import Pipeline, Stage, Step
from lingualift.train.config import TrainConfig
from lingualift.train.report import TrainingReport

METHODS = ("cpt", "sft", "dpo", "orpo")  # the order training steps run in
# the figures of training_report.json the report shows; the run's summary keeps them too
FIGURES = (
    "steps",
    "epochs",
    "first_loss",
    "final_loss",
    "best_eval_loss",
    "non_pad_tokens_seen",
    "non_pad_tokens_per_second",
    "trainable_parameters",
    "peak_memory_mb",
    "train_seconds",
)
SUMMARY = ("method", "mode", *FIGURES)


def command(
    config: TrainConfig,
    method: Annotated[
        str, typer.Argument(help="sft, dpo, orpo or cpt (continued pre-training on raw text).")
    ],
) -> None:
    """Fine-tune a model: SFT (LoRA, QLoRA or full), DPO, ORPO, or continued pre-training.

    Writes the adapter (or full weights) with the tokenizer and its chat template, a
    training_report.json (tokens seen, non-pad tokens/s, trainable parameters, losses, peak
    memory, wall time, versions) and loss_curve.png. Checkpoints go to OUT/checkpoints; running
    the same command again continues from the last one. Several GPUs: --accelerate-config ddp
    (or fsdp, zero2, zero3), or `accelerate launch -m lingualift train ...` yourself.
    """
    from lingualift.train.run import run_training

    run_training(config, echo=typer.echo)


def section(report: TrainingReport, where: str) -> Section:
    history, config = report.loss_history, report.config
    versions = ", ".join(f"{k} {v}" for k, v in report.versions.items())
    settings = ", ".join(
        f"{k}={config[k]}"
        for k in (
            "lr",
            "batch_size",
            "grad_accum",
            "max_seq_length",
            "lora_r",
            "epochs",
            "max_steps",
            "packing",
        )
        if k in config
    )
    by = f"train {report.method} ({report.mode}) of {report.model} on {report.data}; {settings}; {versions}"

    def draw(fig, ax):
        for key, style in (("loss", "-"), ("eval_loss", "o--")):
            points = [(h["step"], h[key]) for h in history if key in h]
            if points:
                ax.plot(*zip(*points), style, label=key.replace("_", " "))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        ax.set_title(f"{str(report.method or '').upper()} loss — {Path(str(report.model)).name}", fontsize=9)

    rows = pick(report, FIGURES)
    stats = report.data_stats
    if stats.get("languages"):
        mix = f" (--mix {stats['mix']})" if stats.get("mix") else ""
        counts = ", ".join(
            f"{lang} {v['sampled']} of {v['available']}" for lang, v in stats["languages"].items()
        )
        rows.append((f"conversations per language{mix}", counts))
    if stats.get("vocabulary"):
        vocabulary = stats["vocabulary"]
        rows.append(
            (
                "vocabulary",
                f"{vocabulary['tokens']} tokens, {vocabulary['added_by_tokenizer_extend']} added by "
                f"tokenizer extend; embeddings trained: {vocabulary['embeddings_trained']}",
            )
        )
    if stats.get("replay_conversations") is not None:
        rows.append(
            ("replay conversations", f"{stats['replay_conversations']} ({fmt(stats.get('replay_share'))})")
        )
    return Section(f"Training: {report.method}", where, by, rows, png(draw) if history else None)


class TrainSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cpt: Optional[dict[str, Any]] = Field(
        None, description="Continued pre-training first (needs `data:` raw text)"
    )
    sft: Optional[dict[str, Any]] = Field(
        default_factory=dict, description="Supervised fine-tuning on the threads"
    )
    dpo: Optional[dict[str, Any]] = Field(None, description="DPO on the preference pairs, after sft")
    orpo: Optional[dict[str, Any]] = Field(None, description="ORPO on the preference pairs, after sft")


FIELDS = {"train": (TrainSection, Field(default_factory=TrainSection))}


def plan(config, plan) -> None:
    """One step per configured method, in METHODS order; each starts from the previous one's output."""
    from lingualift.pipeline.runner import path_fingerprint

    if config.train.dpo is not None and config.train.orpo is not None:
        plan.problems.append("train: dpo and orpo are alternatives, configure one")
    threads = plan.of("threads")
    for method in METHODS:
        section = getattr(config.train, method)
        if section is None:
            continue
        where, name, section = f"train.{method}", f"train-{method}", dict(section)
        if plan.several and method in ("dpo", "orpo"):
            plan.problems.append(
                f"{where}: takes one language's preference pairs; with several languages train "
                "sft only (or run one pipeline per language for the pairs)"
            )
            continue
        if method == "cpt" and "data" not in section:
            plan.problems.append(f"{where}.data: raw target-language text to pre-train on is required")
            continue
        if method == "cpt":
            data = section.pop("data")  # the user's raw text, not a link
        elif method == "sft":
            data = ",".join(str(plan.work / t.name / "train") for t in threads)
        else:
            data = str(plan.work / threads[0].name / "pairs")
        previous = plan.of("train")[-1:]
        links = {"method": method, "model": plan.model, "data": data, "out": str(plan.work / name)}
        built = plan.build(where, TrainConfig, section, links)
        if built is None:
            continue
        upstream = tuple(s.name for s in previous) + (
            () if method == "cpt" else tuple(t.name for t in threads)
        )
        inputs = {"data": path_fingerprint(data)} if method == "cpt" else {}
        plan.steps.append(Step(name, STAGE, built, upstream=upstream, inputs=inputs))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.train.run import run_training

    report = run_training(step.config, echo=echo)
    return report.summary(SUMMARY)


def figure(summary: TrainingReport) -> str:
    return f"loss {_round(summary.first_loss)} → {_round(summary.final_loss)} in {summary.steps} steps"


def _round(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


STAGE = Stage(
    "train",
    TrainConfig,
    command=command,
    flags={
        "full": "--full/--lora",
        "quant4": "--quant4",
        "quant8": "--quant8",
        "resume": "--resume",
        "assistant_only_loss": "--assistant-only-loss/--all-tokens",
        "out": "--out -o",
    },
    report="training_report.json",
    report_type=TrainingReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
