"""`lingualift generate`: grounded question-answer conversations from raw target-language documents."""

from __future__ import annotations

import typer

from lingualift.report import Section, bars, fmt, pick
from lingualift.stage import Stage
from lingualift.tools.generate import GenerateConfig


def command(config: GenerateConfig) -> None:
    """Write grounded question-answer conversations from raw target-language documents (a Wikipedia or
    news dump you provide): clean, chunk below --chunk-tokens, ask a local model or any OpenAI-compatible
    endpoint for --pairs-per-chunk pairs as JSON, repair what is almost JSON, keep pairs whose answer is
    in the language and grounded in the chunk. Output: `train` (messages) and `rejected` (with reasons)
    splits, chat.jsonl (OpenAI chat format), generate_report.json. Re-running resumes; failed requests
    are retried."""
    from lingualift.tools.generate.run import generate_conversations

    generate_conversations(config, echo=typer.echo)


def section(data: dict, where: str) -> Section:
    pairs = data.get("pairs") or {}
    rows = pick(data, ("documents", "documents_kept", "chunks", "replies"))
    rows += [
        ("pairs accepted", fmt(pairs.get("accepted"))),
        ("rejected by reason", fmt(pairs.get("rejected_by_reason"))),
    ]
    by = f"generate: {data.get('generator')}, language {data.get('lang')}, chunks of {data.get('chunk_tokens')} tokens"
    counts = {"accepted": pairs.get("accepted", 0), **(pairs.get("rejected_by_reason") or {})}
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
    section=section,
)
