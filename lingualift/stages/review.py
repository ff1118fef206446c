"""`lingualift review`: translations reviewed by hand in a local page; `review export` applies the decisions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import BaseModel, Field

from lingualift.sections import Section, pick
from lingualift.stage import Pipeline, Stage, Step
from lingualift.tools.review.decisions import ReviewConfig, ReviewReport


def command(
    config: ReviewConfig,
    target: Annotated[
        str,
        typer.Argument(
            help="Translated dataset (save_to_disk dir) to review, or `export`.", metavar="DATA|export"
        ),
    ],
    data: Annotated[
        Optional[str], typer.Argument(help="With `export`: the reviewed dataset.", metavar="DATA")
    ] = None,
    out: Annotated[
        Optional[str], typer.Option("--out", "-o", help="With `export`: where to write the result.")
    ] = None,
) -> None:
    """Review translations by hand: `lingualift review DATA` serves a page on 127.0.0.1 listing each
    row's source, translation and quality flags; filter by flag, then accept (a), edit (e) or reject
    (r, with a reason) with the keyboard. Every decision is saved in SQLite (DATA.review.sqlite) as it
    is made, so stopping or killing the server loses nothing; run it again to continue.
    `lingualift review export DATA --out DIR` applies the decisions: edited text replaces the
    translation, rejected rows move to a `rejected` split with their reason."""
    from lingualift.errors import ConfigError

    if target == "export":
        if not data or not out:
            raise ConfigError(
                "review export needs the dataset and --out: lingualift review export DATA --out DIR"
            )
        from lingualift.tools.review.decisions import apply_decisions

        apply_decisions(data, out, config, echo=typer.echo)
        return
    if data or out:
        raise ConfigError(
            "review takes one dataset; to apply decisions: lingualift review export DATA --out DIR"
        )
    from lingualift.tools.review.server import start_review

    server = start_review(target, config, echo=typer.echo)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped; decisions are saved")
    finally:
        server.server_close()


def section(report: ReviewReport, where: str) -> Section:
    by = f"review of {report.data} by hand (decisions in {report.decisions})"
    return Section(
        "Translation review", where, by, pick(report, ("accepted", "edited", "rejected", "unreviewed"))
    )


FIELDS = {
    "review": (
        bool,
        Field(
            False,
            description="Stop after generate for a hand review of the pairs (GlobalInstruct's correction): the "
            "run names the command that opens the page; the next `lingualift run` applies the decisions",
        ),
    )
}


class ReviewStep(BaseModel):
    """The pipeline's review step: the data under review, where the reviewed data goes, its language."""

    data: str
    out: str
    lang: str


def plan(config, plan) -> None:
    """One step per generate step when `review: true`; threads then read the reviewed pairs."""
    if not config.review:
        return
    from lingualift.pipeline.runner import path_fingerprint
    from lingualift.tools.review.decisions import default_db

    generated = plan.of("generate")
    if not generated:
        plan.problems.append("review: true pauses after `generate:` — this config has none")
    for step in generated:
        name = f"review{plan.suffix(step.config.lang)}"
        config_ = ReviewStep(data=step.config.out, out=str(plan.work / name / "data"), lang=step.config.lang)
        decisions = path_fingerprint(str(default_db(step.config.out)))  # new decisions: applied again
        plan.steps.append(Step(name, STAGE, config_, upstream=(step.name,), inputs={"decisions": decisions}))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.errors import DataError
    from lingualift.tools.review.decisions import DecisionStore, apply_decisions, default_db

    config = step.config
    db = default_db(config.data)
    decided = 0
    if db.exists():
        store = DecisionStore(db)
        decided = len(store.all())
        store.close()
    if not decided:
        raise DataError(
            f"review: the generated pairs wait for you — `lingualift review {config.data}` (decide, Ctrl+C), "
            "then run the same `lingualift run` again"
        )
    report = apply_decisions(config.data, config.out, ReviewConfig(), echo=echo)
    return report.summary(("accepted", "edited", "rejected", "unreviewed"))


def figure(summary: ReviewReport) -> str:
    return f"{summary.edited} edited, {summary.rejected} rejected, {summary.accepted + summary.unreviewed} kept as written"


STAGE = Stage(
    "review",
    ReviewConfig,
    command=command,
    report="review_report.json",
    report_type=ReviewReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
