"""The pipeline report: `lingualift report`'s page for the work directory, led by the plan (what ran,
what was skipped and why, seconds per stage)."""

from __future__ import annotations

import html
from pathlib import Path

from lingualift.report import write_report as write_run_report
from lingualift.sections import Section
from lingualift.stage import Step

DEMO_NOTE = (
    "What this demo can show: a 135M-parameter model trained for minutes on machine-translated "
    "conversations learns the surface of the language (its words and spelling), not the quality of its "
    "answers. Read the usable rate (in the language and not degenerate) and the examples of degenerate "
    "replies, not the in-language rate alone; a real run needs a larger model, more data and more steps."
)


def write_report(work: Path, steps: list[Step], *, language: str, note: str | None = None) -> Path:
    rows = "".join(
        f"<tr><td>{s.name}</td><td>{s.action}</td><td>{html.escape(s.reason)}</td>"
        f"<td>{_seconds(work, s.name)}</td></tr>"
        for s in steps
    )
    markdown = ["| stage | action | why | seconds |", "|---|---|---|---|"] + [
        f"| {s.name} | {s.action} | {s.reason} | {_seconds(work, s.name)} |" for s in steps
    ]
    lead = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    stages = Section(
        "Stages",
        "stage.json of each stage",
        "lingualift run: the plan and each stage's wall time",
        extra_html=f"{lead}<table><tr><th>stage</th><th>action</th><th>why</th><th>seconds</th></tr>"
        f"{rows}</table>",
        extra_md=([note, ""] if note else []) + markdown + [""],
    )
    return write_run_report(work, work / "report", title=f"lingualift report — {language}", leading=[stages])


def summary_table(work: Path, steps: list[Step], summaries: dict) -> list[str]:
    """The run's last screen: per step its seconds and the one figure that matters."""
    rows = [(s.name, s.action, _seconds(work, s.name), s.figure(summaries.get(s.name) or {})) for s in steps]
    widths = [max(len(str(r[i])) for r in rows + [("stage", "", "seconds", "")]) for i in range(3)]
    return [
        f"  {name:<{widths[0]}}  {action:<{widths[1]}}  {seconds:>{widths[2]}} s  {figure}"
        for name, action, seconds, figure in rows
    ]


def _seconds(work: Path, name: str) -> str:
    from lingualift.pipeline.runner import read_json

    finished = read_json(work / name / "stage.json")
    return str(finished.get("seconds", "")) if finished else ""
