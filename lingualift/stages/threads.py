"""`lingualift threads` and the pipeline's threads steps: conversations from the translated data,
with some held out of training as the fidelity prompts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional, Union

import typer
from pydantic import BaseModel, Field

from lingualift.conversations.threads import ThreadsConfig, ThreadsReport
from lingualift.sections import Section, fmt, pick, short
from lingualift.stage import Pipeline, Stage, Step
from lingualift.stages.arguments import SOURCE_ARGUMENT


def command(
    config: ThreadsConfig,
    source: Annotated[str, SOURCE_ARGUMENT],
    out: Annotated[str, typer.Option("--out", "-o", help="Output directory for the threads (save_to_disk).")],
) -> None:
    """Turn (translated) data into conversations: oasst trees to threads, other formats to messages.

    oasst1-style trees become one thread per root, following the best-ranked reply at each step
    (a null rank counts as worse than any ranked one; ties keep dataset order), trimmed to end
    on an assistant turn. Deleted, failed-review, empty, orphaned and cyclic messages are counted
    in threads_report.json, never silently dropped. ShareGPT, Alpaca, OpenAI messages and Dolly
    inputs are detected from their columns. thread_message_ids.json lists the messages the
    threads use, so translation can be limited to them.
    """
    from lingualift.conversations.threads import write_threads

    report = write_threads(config)
    for name, counts in report.splits.items():
        skipped = {k[8:]: v for k, v in counts.items() if k.startswith("skipped_") and v}
        typer.echo(
            f"{name} ({counts['format']}): {counts['threads']} threads, {counts['pairs']} pairs"
            + (f"; skipped {skipped}" if skipped else "")
        )
    typer.echo(f"threads: {report.out}" + (f"  pairs: {report.pairs_out}" if config.pairs_out else ""))


def section(report: ThreadsReport, where: str) -> Section:
    rows = []
    for split, counts in report.splits.items():
        rows.append((f"{split}", ", ".join(f"{k.replace('_', ' ')} {fmt(v)}" for k, v in counts.items())))
    lang, strategy = report.config.get("lang"), report.config.get("strategy")
    by = f"threads: language {lang}, strategy {strategy}, source {report.source}"
    return Section(
        f"Conversations ({lang or 'source-language'}): {short(str(report.source))}",
        where,
        by,
        rows + pick(report, ("pairs_note",)),
    )


class ThreadsSummary(BaseModel):
    """A pipeline threads step's summary: the report's splits and the training/held-out split."""

    splits: dict[str, dict[str, Union[int, str]]] = Field(default_factory=dict)
    train: Optional[int] = None
    heldout: Optional[int] = None
    pairs: int = 0


FIELDS = {
    "threads": (dict[str, Any], Field(default_factory=dict, description="`lingualift threads` options"))
}


def plan(config, plan) -> None:
    """One step per target language, on that language's respond step, else its translate step,
    else (`translate: false`) the source; `evaluate.holdout` conversations are kept out of
    training when fidelity is measured."""
    holdout = config.evaluate.holdout if config.evaluate.fidelity is not None else 0
    translated = {step.config.to: step for step in plan.of("translate")}
    answered = {step.config.lang: step for step in plan.of("respond")}  # the teacher's answers
    answered.update({step.config.lang: step for step in plan.of("generate")})  # or written from documents
    answered.update({step.config.lang: step for step in plan.of("review")})  # and reviewed by hand
    source = plan.of("source")[0]
    for tag in plan.tags:
        upstream = answered.get(tag) or translated.get(tag) or (source if config.translate is False else None)
        if upstream is None:  # its translate step is invalid: the plan already says why
            continue
        name = f"threads{plan.suffix(tag)}"
        data = upstream.config.out if upstream is not source else str(plan.work / source.name / "data")
        links = {
            "lang": tag,
            "source": data,
            "out": str(plan.work / name / "all"),
            "pairs_out": str(plan.work / name / "pairs"),
        }
        if upstream in answered.values():
            links["split"] = "train"  # not the rejected answers
        built = plan.build("threads", ThreadsConfig, config.threads, links)
        if built is not None:
            plan.steps.append(
                Step(name, STAGE, built, upstream=(upstream.name,), settings={"holdout": holdout})
            )


def run(step: Step, work: Path, echo, *, seed: int = 0) -> dict:
    """Target-language threads and pairs; `holdout` conversations are kept out of training as the
    fidelity prompts (a deterministic shuffle)."""
    import datasets

    from lingualift.conversations.threads import write_threads
    from lingualift.io import load_source, save_dataset

    folder, config, holdout = work / step.name, step.config, step.settings["holdout"]
    report = write_threads(config)
    built = load_source(config.out)  # every split's threads train (oasst1's validation split too)
    conversations = datasets.concatenate_datasets(list(built.values())) if hasattr(built, "values") else built
    if len(conversations) <= holdout:
        from lingualift.errors import DataError

        raise DataError(
            f"only {len(conversations)} conversations: too few to hold {holdout} out for evaluation "
            "(lower evaluate.holdout or use more data)"
        )
    order = conversations.shuffle(seed=seed)
    heldout, train = order.select(range(holdout)), order.select(range(holdout, len(order)))
    save_dataset(datasets.DatasetDict({"train": train}), folder / "train")
    save_dataset(datasets.DatasetDict({"test": heldout}), folder / "heldout")
    pairs = sum(s["pairs"] for s in report.splits.values())
    echo(
        f"threads ({config.lang}): {len(train)} for training, {len(heldout)} held out, {pairs} preference pairs"
    )
    return ThreadsSummary(
        splits=report.splits, train=len(train), heldout=len(heldout), pairs=pairs
    ).model_dump()


def figure(summary: ThreadsSummary) -> str:
    return f"{summary.train} conversations for training, {summary.heldout} held out"


STAGE = Stage(
    "threads",
    ThreadsConfig,
    command=command,
    flags={"no_system_prompt": "--no-system-prompt"},
    report="threads_report.json",
    report_type=ThreadsReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure, summary_type=ThreadsSummary),
)
