"""`lingualift check`: look at a dataset before training on it."""

from __future__ import annotations

from typing import Annotated

import typer

from lingualift.sections import Section, bars, fmt
from lingualift.stage import Stage
from lingualift.stages.arguments import SOURCE_ARGUMENT
from lingualift.tools.check import CheckConfig, CheckReport


def command(config: CheckConfig, data: Annotated[str, SOURCE_ARGUMENT]) -> None:
    """Look at a dataset before training on it: tokens per conversation and turn with the model's
    tokenizer and chat template (percentiles, histogram), the share --max-seq-length would cut,
    turns per conversation, the language of every turn, exact and near duplicates, empty and very
    short turns, a training estimate (measured on this machine, and GPU-hours from an assumed
    throughput table) and, with --price-per-million-chars, what translating it through an API costs.
    Writes check.json and token_histogram.png to --out."""
    from lingualift.tools.check import check_dataset

    check_dataset(config, echo=typer.echo)


def section(report: CheckReport, where: str) -> Section:
    cut, estimate = report.truncated, report.training_estimate
    duplicates = {k: v for k, v in report.duplicates.items() if k != "near_examples"}
    rows = [
        ("conversations", fmt(report.conversations)),
        ("tokens per conversation", fmt(report.tokens.get("per_conversation"))),
        (f"cut at {report.max_seq_length} tokens", f"{cut.get('conversations')} ({fmt(cut.get('share'))})"),
        ("duplicates", fmt(duplicates)),
        ("training tokens", fmt(estimate.get("training_tokens"))),
    ]
    if "this_machine" in estimate:
        rows.append(("measured here", fmt(estimate["this_machine"])))
    if report.translation_cost is not None:
        rows.append(("translation cost", fmt(report.translation_cost)))
    languages = {k: v["turns"] for k, v in list(report.languages.items())[:12]}
    by = (
        f"check of {report.data} with the tokenizer and chat template of {report.model}; languages by "
        "fastText lid.176"
    )
    return Section(
        "Dataset check",
        where,
        by,
        rows,
        bars(languages, title="Turns per detected language", xlabel="turns") if languages else None,
    )


STAGE = Stage(
    "check",
    CheckConfig,
    command=command,
    flags={"out": "--out -o"},
    report="check.json",
    report_type=CheckReport,
    section=section,
)
