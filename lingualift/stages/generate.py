"""`lingualift generate`: grounded question-answer conversations from raw target-language documents."""

from __future__ import annotations

import typer

from lingualift.sections import Section, bars, fmt, pick
from lingualift.stage import Stage
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


STAGE = Stage(
    "generate",
    GenerateConfig,
    command=command,
    flags={"out": "--out -o"},
    report="generate_report.json",
    report_type=GenerateReport,
    section=section,
)
