"""`lingualift review`: translations reviewed by hand in a local page; `review export` applies the decisions."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from lingualift.sections import Section, pick
from lingualift.stage import Stage
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


STAGE = Stage(
    "review",
    ReviewConfig,
    command=command,
    report="review_report.json",
    report_type=ReviewReport,
    section=section,
)
