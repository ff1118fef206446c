"""The pipeline report: `lingualift report`'s page for the work directory, led by the plan (what ran,
what was skipped and why, seconds per stage)."""

from __future__ import annotations

import html
import json
from pathlib import Path

from lingualift.report import Section
from lingualift.report import write_report as write_run_report

DEMO_NOTE = ("What this demo can show: a 135M-parameter model trained for minutes on machine-translated "
             "conversations learns the surface of the language (its words and spelling), not the quality of its "
             "answers. Read the usable rate (in the language and not degenerate) and the examples of degenerate "
             "replies, not the in-language rate alone; a real run needs a larger model, more data and more steps.")


def write_report(work: Path, stage_list, *, language: str, note: str | None = None) -> Path:
    rows = "".join(f"<tr><td>{s.name}</td><td>{s.action}</td><td>{html.escape(s.reason)}</td>"
                   f"<td>{_seconds(work, s.name)}</td></tr>" for s in stage_list)  # fmt: skip
    markdown = ["| stage | action | why | seconds |", "|---|---|---|---|"] + [
        f"| {s.name} | {s.action} | {s.reason} | {_seconds(work, s.name)} |" for s in stage_list
    ]
    lead = f"<p class='note'>{html.escape(note)}</p>" if note else ""
    stages = Section("Stages", "stage.json of each stage", "lingualift run: the plan and each stage's wall time",
                     extra_html=f"{lead}<table><tr><th>stage</th><th>action</th><th>why</th><th>seconds</th></tr>"
                                f"{rows}</table>", extra_md=([note, ""] if note else []) + markdown + [""])  # fmt: skip
    return write_run_report(work, work / "report", title=f"lingualift report — {language}", leading=[stages])


def summary_table(work: Path, stage_list, summaries: dict) -> list[str]:
    """The run's last screen: per stage its seconds and the one figure that matters."""
    rows = [(s.name, s.action, _seconds(work, s.name), _figure(s.name, summaries.get(s.name) or {})) for s in stage_list]
    widths = [max(len(str(r[i])) for r in rows + [("stage", "", "seconds", "")]) for i in range(3)]
    return [f"  {name:<{widths[0]}}  {action:<{widths[1]}}  {seconds:>{widths[2]}} s  {figure}"
            for name, action, seconds, figure in rows]  # fmt: skip


def _figure(stage: str, summary: dict) -> str:
    if stage == "source":
        return ", ".join(f"{split} {n} rows" for split, n in (summary.get("rows") or {}).items())
    if stage.startswith("translate"):
        outcomes = summary.get("rows_by_outcome") or {}
        return ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in outcomes.items()) + " rows"
    if stage.startswith("threads"):
        return f"{summary.get('train')} conversations for training, {summary.get('heldout')} held out"
    if stage.startswith("train"):
        return f"loss {_round(summary.get('first_loss'))} → {_round(summary.get('final_loss'))} in {summary.get('steps')} steps"
    if stage == "evaluate":
        return "; ".join(f"{Path(name.split('+')[-1]).name or name}: usable {r['usable_rate']:.0%} "
                         f"({r['usable_ci95'][0]:.0%}–{r['usable_ci95'][1]:.0%})"
                         for name, r in summary.items() if isinstance(r, dict) and "usable_rate" in r)  # fmt: skip
    if stage == "export":
        return ", ".join(f"{kind} → {path}" for kind, path in summary.items())
    return ""


def _round(value) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _seconds(work: Path, name: str) -> str:
    path = work / name / "stage.json"
    return str(json.loads(path.read_text()).get("seconds", "")) if path.is_file() else ""
