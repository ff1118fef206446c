"""The pipeline report: `lingualift report`'s page for the work directory, led by the plan (what ran,
what was skipped and why, seconds per stage)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from lingualift.report import Section
from lingualift.report import write_report as write_run_report


def write_report(work: Path, stage_list, *, language: str) -> Path:
    rows = "".join(f"<tr><td>{s.name}</td><td>{s.action}</td><td>{html.escape(s.reason)}</td>"
                   f"<td>{_seconds(work, s.name)}</td></tr>" for s in stage_list)  # fmt: skip
    markdown = ["| stage | action | why | seconds |", "|---|---|---|---|"] + [
        f"| {s.name} | {s.action} | {s.reason} | {_seconds(work, s.name)} |" for s in stage_list
    ]
    stages = Section("Stages", "stage.json of each stage", "lingualift run: the plan and each stage's wall time",
                     extra_html="<table><tr><th>stage</th><th>action</th><th>why</th><th>seconds</th></tr>"
                                f"{rows}</table>", extra_md=markdown + [""])  # fmt: skip
    return write_run_report(work, work / "report", title=f"lingualift report — {language}", leading=[stages])


def _seconds(work: Path, name: str) -> str:
    path = work / name / "stage.json"
    return str(json.loads(path.read_text()).get("seconds", "")) if path.is_file() else ""
