"""`lingualift respond`: a teacher answers the prompts in the language (Bactrian-X, Suzume)."""

from __future__ import annotations

from typing import Annotated

import typer

from lingualift.report import Section, bars, fmt, pick
from lingualift.stage import Stage
from lingualift.tools.respond import RespondConfig


def command(
    config: RespondConfig,
    data: Annotated[
        str,
        typer.Argument(
            help="Prompts: conversations (messages, conversations, alpaca, dolly) or a `prompt` column; "
            "a saved dataset, files or a hub id."
        ),
    ],
) -> None:
    """Have a teacher (a local model or any OpenAI-compatible endpoint) write every assistant turn
    afresh, in the language, each given the conversation so far with its own earlier answers; keep
    the answers in the language that are not degenerate, refusals or boilerplate. Output: `train`
    (messages) and `rejected` (with reasons), respond_report.json; --pairs-out writes DPO pairs
    (teacher's answer vs the input's source-language one). Re-running resumes; failed requests are
    retried."""
    from lingualift.tools.respond.run import respond

    respond(config, echo=typer.echo)


def section(data: dict, where: str) -> Section:
    rows = pick(data, ("rows", "accepted", "rejected", "accepted_turns", "pairs"))
    rows.append(("rejected by reason", fmt(data.get("rejected_by_reason"))))
    by = f"respond: teacher {data.get('teacher')}, language {data.get('lang')}"
    counts = {"accepted": data.get("accepted", 0), **(data.get("rejected_by_reason") or {})}
    figure = bars(counts, title="Conversations", xlabel="conversations") if any(counts.values()) else None
    return Section("Teacher answers", where, by, rows, figure)


STAGE = Stage(
    "respond",
    RespondConfig,
    command=command,
    flags={"out": "--out -o"},
    report="respond_report.json",
    section=section,
)
