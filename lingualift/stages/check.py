"""`lingualift check`: look at a dataset before training on it."""

from __future__ import annotations

from typing import Annotated

import typer

from lingualift.report import Section, bars, fmt
from lingualift.stage import Stage
from lingualift.stages.arguments import SOURCE_ARGUMENT
from lingualift.tools.check import CheckConfig


def command(config: CheckConfig, data: Annotated[str, SOURCE_ARGUMENT]) -> None:
    """Look at a dataset before training on it: tokens per conversation and turn with the model's
    tokenizer and chat template (percentiles, histogram), the share --max-seq-length would cut,
    turns per conversation, the language of every turn, exact and near duplicates, empty and very
    short turns, a training estimate (measured on this machine, and GPU-hours from an assumed
    throughput table) and, with --price-per-million-chars, what translating it through an API costs.
    Writes check.json and token_histogram.png to --out."""
    from lingualift.tools.check import check_dataset

    check_dataset(config, echo=typer.echo)


def section(data: dict, where: str) -> Section:
    tokens, cut = data.get("tokens") or {}, data.get("truncated") or {}
    estimate = data.get("training_estimate") or {}
    rows = [
        ("conversations", fmt(data.get("conversations"))),
        ("tokens per conversation", fmt(tokens.get("per_conversation"))),
        (
            f"cut at {data.get('max_seq_length')} tokens",
            f"{cut.get('conversations')} ({fmt(cut.get('share'))})",
        ),
        (
            "duplicates",
            fmt({k: v for k, v in (data.get("duplicates") or {}).items() if k != "near_examples"}),
        ),
        ("training tokens", fmt(estimate.get("training_tokens"))),
    ]
    if "this_machine" in estimate:
        rows.append(("measured here", fmt(estimate["this_machine"])))
    if "translation_cost" in data:
        rows.append(("translation cost", fmt(data["translation_cost"])))
    languages = {k: v["turns"] for k, v in list((data.get("languages") or {}).items())[:12]}
    by = f"check of {data.get('data')} with the tokenizer and chat template of {data.get('model')}; languages by fastText lid.176"
    return Section(
        "Dataset check",
        where,
        by,
        rows,
        bars(languages, title="Turns per detected language", xlabel="turns") if languages else None,
    )


STAGE = Stage(
    "check", CheckConfig, command=command, flags={"out": "--out -o"}, report="check.json", section=section
)
