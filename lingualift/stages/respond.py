"""`lingualift respond`: a teacher answers the prompts in the language (Bactrian-X, Suzume)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from pydantic import Field

from lingualift.sections import Section, bars, fmt, pick
from lingualift.stage import Pipeline, Stage, Step
from lingualift.tools.respond import RespondConfig
from lingualift.tools.respond.report import RespondReport


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


def section(report: RespondReport, where: str) -> Section:
    rows = pick(report, ("rows", "accepted", "rejected", "accepted_turns", "pairs"))
    rows.append(("rejected by reason", fmt(report.rejected_by_reason)))
    by = f"respond: teacher {report.teacher}, language {report.lang}"
    counts = {"accepted": report.accepted, **report.rejected_by_reason}
    figure = bars(counts, title="Conversations", xlabel="conversations") if any(counts.values()) else None
    return Section("Teacher answers", where, by, rows, figure)


FIELDS = {
    "respond": (
        Optional[dict[str, Any]],
        Field(
            None,
            description="`lingualift respond` options: a teacher answers the translated prompts (translate then "
            "translates only the user turns); needs `model` or `base_url`",
        ),
    )
}


def plan(config, plan) -> None:
    """One step per language when `respond:` is there, on that language's translate step (or on
    the source, with `translate: false`: native prompts)."""
    if config.respond is None:
        return
    translated = {step.config.to: step for step in plan.of("translate")}
    source = plan.of("source")[0]
    for tag in plan.tags:
        upstream = translated.get(tag) or (source if config.translate is False else None)
        if upstream is None:  # its translate step is invalid: the plan already says why
            continue
        data = upstream.config.out if upstream is not source else str(plan.work / source.name / "data")
        name = f"respond{plan.suffix(tag)}"
        links = {"data": data, "lang": tag, "out": str(plan.work / name / "data")}
        built = plan.build("respond", RespondConfig, {"split": "train", **config.respond}, links)
        if built is not None:
            plan.steps.append(Step(name, STAGE, built, upstream=(upstream.name,)))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.tools.respond.run import respond

    report = respond(step.config, echo=echo, progress=False)
    return report.summary(("teacher", "rows", "accepted", "rejected", "rejected_by_reason"))


def figure(summary: RespondReport) -> str:
    return f"{summary.accepted} of {summary.rows} conversations answered and kept"


STAGE = Stage(
    "respond",
    RespondConfig,
    command=command,
    flags={"out": "--out -o"},
    report="respond_report.json",
    report_type=RespondReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
