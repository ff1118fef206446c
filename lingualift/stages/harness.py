"""`lingualift eval harness`: lm-evaluation-harness tasks for the target language."""

from __future__ import annotations

import typer

from lingualift.evaluate.harness import HarnessConfig, HarnessReport
from lingualift.sections import Section, fmt, png
from lingualift.stage import Stage


def command(config: HarnessConfig) -> None:
    """Run lm-evaluation-harness tasks for the target language (belebele, xcopa, xwinograd, mgsm,
    global_mmlu, ... or your own YAML tasks over local files with --include-path) on the model or
    base + adapter; scores and standard errors go to harness.json, which `lingualift report` shows.
    Needs the harness extra: pip install 'lingualift[harness]'."""
    from lingualift.evaluate.harness import run_harness

    run_harness(config, echo=typer.echo)


def section(report: HarnessReport, where: str) -> Section:
    scores = report.scores
    by = (
        f"lm-evaluation-harness {report.harness_version or '?'}: model {report.model}, tasks "
        f"{', '.join(scores)}, {report.num_fewshot}-shot, limit {report.limit}"
    )
    rows = [(task, ", ".join(f"{m} {fmt(v)}" for m, v in values.items())) for task, values in scores.items()]
    main = [(task, next(iter(values.items()))) for task, values in scores.items() if values]

    def draw(fig, ax):
        ax.barh(range(len(main)), [v for _, (_, v) in main], color="#8172b3")
        ax.set_yticks(range(len(main)), [f"{t} ({m})" for t, (m, _) in main], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title("lm-evaluation-harness", fontsize=9)

    return Section("Benchmarks (lm-evaluation-harness)", where, by, rows, png(draw) if main else None)


STAGE = Stage(
    "harness",
    HarnessConfig,
    command=command,
    command_name="eval harness",
    report="harness.json",
    report_type=HarnessReport,
    section=section,
)
