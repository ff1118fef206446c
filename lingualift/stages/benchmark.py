"""`lingualift eval benchmark`: a multiple-choice benchmark (a translated one) scored by log-likelihood."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lingualift.evaluate.benchmark import Z95, BenchmarkConfig, BenchmarkReport
from lingualift.sections import Section, fmt, png
from lingualift.stage import Pipeline, Stage, Step


def command(
    config: BenchmarkConfig,
    data: Annotated[
        str,
        typer.Argument(
            help="Multiple-choice dataset: a `translate` output, files, a save_to_disk dir or a hub id (id:config)."
        ),
    ],
) -> None:
    """Score a multiple-choice dataset (TruthfulQA, ARC, MMLU, HellaSwag or Belebele shaped, e.g.
    translated by `lingualift translate`) by log-likelihood through lm-evaluation-harness: the model
    (+ adapter), optionally --compare (the base you tuned) and --original (the source-language
    dataset) side by side. Items translate flagged are left out and counted; accuracy and
    length-normalised accuracy with 95% intervals and the chance level go to benchmark.json.
    Needs the harness extra: pip install 'lingualift[harness]'."""
    from lingualift.evaluate.benchmark import run_benchmark

    run_benchmark(config, echo=typer.echo)


def section(report: BenchmarkReport, where: str) -> Section:
    left = ", ".join(f"{k} {v}" for k, v in report.left_out.items()) or "none"
    by = (
        f"lm-evaluation-harness {report.harness_version or '?'}, log-likelihood of each choice, 0-shot: "
        f"{report.items} {report.shape} items of {report.data}; left out: {left}"
    )

    def interval(values) -> str:
        return f" (95% {fmt(values[0])}–{fmt(values[1])})" if values else ""

    rows = [("chance (guessing)", fmt(report.chance))]
    rows += [
        (f"{s.model} on {s.data}", f"acc {fmt(s.acc)}{interval(s.acc_ci95)}, acc_norm {fmt(s.acc_norm)}")
        for s in report.scores
    ]

    def draw(fig, ax):
        names = [s.model for s in report.scores]
        ax.barh(range(len(names)), [s.acc for s in report.scores], color="#4c72b0")
        errors = [(s.acc_stderr or 0) * Z95 for s in report.scores]
        ax.errorbar([s.acc for s in report.scores], range(len(names)), xerr=errors, fmt="none", ecolor="#222")
        ax.axvline(report.chance or 0, color="#c44e52", linestyle="--", label="chance")
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlim(0, 1)
        ax.legend(fontsize=8)
        ax.set_title(f"Accuracy on {report.shape} ({report.items} items), 95% intervals", fontsize=9)

    return Section("Translated benchmark", where, by, rows, png(draw) if report.scores else None)


def plan(config, plan) -> None:
    """`evaluate.benchmark`: per language, the benchmark translated (multiple-choice format) and scored
    with the last trained model, beside the base and the original."""
    from lingualift.translate.config import TranslateConfig

    if config.evaluate.benchmark is None:
        return
    section = dict(config.evaluate.benchmark)
    translate = dict(section.pop("translate", None) or {})
    source, source_lang = section.pop("source", None), section.pop("source_lang", "en")
    if not source:
        plan.problems.append(
            "evaluate.benchmark.source: name the multiple-choice dataset (e.g. truthfulqa/truthful_qa:multiple_choice)"
        )
    trained = plan.of("train")[-1:]
    for tag in plan.tags:
        name = f"benchmark{plan.suffix(tag)}"
        links = {"source": source or "", "to": tag, "out": str(plan.work / name / "translated")}
        links |= {"source_lang": source_lang, "limit": section.get("limit")}
        options = {"format": "multiple_choice", "split": section.get("split"), **translate}
        translation = plan.build("evaluate.benchmark.translate", TranslateConfig, options, links)
        links = {
            "data": str(plan.work / name / "translated"),
            "model": plan.model,
            "compare": config.model if trained else None,
            "original": source,
            "out": str(plan.work / name),
        }
        built = plan.build("evaluate.benchmark", BenchmarkConfig, section, links)
        if built is not None and translation is not None and source:
            settings = {"translate": translation.model_dump(mode="json")}
            plan.steps.append(
                Step(name, STAGE, built, upstream=tuple(s.name for s in trained), settings=settings)
            )


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.evaluate.benchmark import run_benchmark
    from lingualift.translate.config import TranslateConfig
    from lingualift.translate.engine import translate_dataset

    translation = TranslateConfig(**step.settings["translate"])
    translated = translate_dataset(translation, echo=echo, progress=False)
    echo(f"benchmark translated: {translated.rows_by_outcome} → {translation.out}")
    report = run_benchmark(step.config, echo=echo)
    return report.model_dump(mode="json", include={"shape", "items", "left_out", "chance", "scores"})


def figure(summary: BenchmarkReport) -> str:
    scores = ", ".join(f"{Path(s.model).name or s.model} {s.acc:.0%}" for s in summary.scores)
    return f"{summary.items} {summary.shape} items: {scores} (chance {summary.chance or 0:.0%})"


STAGE = Stage(
    "benchmark",
    BenchmarkConfig,
    command=command,
    command_name="eval benchmark",
    report="benchmark.json",
    report_type=BenchmarkReport,
    section=section,
    pipeline=Pipeline({}, plan, run, figure, summary_type=BenchmarkReport),
)
