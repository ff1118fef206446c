"""`lingualift generate`: grounded question-answer conversations from raw target-language documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import Field

from lingualift.sections import Section, bars, fmt, pick
from lingualift.stage import Pipeline, Stage, Step
from lingualift.tools.generate import GenerateConfig
from lingualift.tools.generate.report import GenerateReport


def command(config: GenerateConfig) -> None:
    """Write grounded question-answer conversations from raw target-language documents (a Wikipedia or
    news dump you provide): clean, chunk below --chunk-tokens, ask a local model or any OpenAI-compatible
    endpoint for --pairs-per-chunk pairs as JSON, repair what is almost JSON, keep pairs whose answer is
    in the language and grounded in the chunk. Output: `train` (messages) and `rejected` (with reasons)
    splits, chat.jsonl (OpenAI chat format), generate_report.json. Re-running resumes; failed requests
    are retried."""
    from lingualift.tools.generate.run import generate_conversations

    generate_conversations(config, echo=typer.echo)


def section(report: GenerateReport, where: str) -> Section:
    pairs = report.pairs
    rows = pick(report, ("documents", "documents_kept", "chunks", "replies"))
    rows += [("pairs accepted", fmt(pairs.accepted)), ("rejected by reason", fmt(pairs.rejected_by_reason))]
    by = f"generate: {report.generator}, language {report.lang}, chunks of {report.chunk_tokens} tokens"
    counts = {"accepted": pairs.accepted, **pairs.rejected_by_reason}
    return Section(
        "Generated instructions",
        where,
        by,
        rows,
        bars(counts, title="Question-answer pairs", xlabel="pairs") if any(counts.values()) else None,
    )


FIELDS = {
    "generate": (
        Optional[dict[str, Any]],
        Field(
            None,
            description="`lingualift generate` options: a teacher writes question-answer conversations from "
            "the source documents, already in the language (with `translate: false`); needs `model` or `base_url`",
        ),
    )
}


def plan(config, plan) -> None:
    """One step per language on the source step's documents (GlobalInstruct: Wikipedia, news)."""
    if config.generate is None:
        return
    if config.translate is not False:
        plan.problems.append("generate: the documents are in the language already — set `translate: false`")
    if config.respond is not None:
        plan.problems.append("generate: the teacher writes the answers itself — remove `respond:`")
    source = plan.of("source")[0]
    for tag in plan.tags:
        name = f"generate{plan.suffix(tag)}"
        links = {
            "docs": str(plan.work / source.name / "data"),
            "lang": tag,
            "out": str(plan.work / name / "data"),
        }
        built = plan.build("generate", GenerateConfig, dict(config.generate), links)
        if built is not None:
            plan.steps.append(Step(name, STAGE, built, upstream=(source.name,)))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.tools.generate.run import generate_conversations

    report = generate_conversations(step.config, echo=echo, progress=False)
    return report.summary(("generator", "documents", "documents_kept", "chunks", "pairs"))


def figure(summary: GenerateReport) -> str:
    return (
        f"{summary.pairs.accepted} question-answer conversations kept from {summary.documents_kept} documents"
    )


STAGE = Stage(
    "generate",
    GenerateConfig,
    command=command,
    flags={"out": "--out -o"},
    report="generate_report.json",
    report_type=GenerateReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
