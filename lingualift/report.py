"""`lingualift report RUN_DIR`: one self-contained HTML page (PNG plots embedded) from what the stages
left in a run directory: translation counts and QE flags, training loss curves, fidelity before/after,
LLM-judge win rates, MT benchmark scores, harness scores. Each figure says what produced it.

Sections are found by file name anywhere under RUN_DIR, so a pipeline work directory and a folder of
hand-run commands' outputs both work. A Markdown twin and the PNG files are written beside the page.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import TYPE_CHECKING

from lingualift.sections import Section

if TYPE_CHECKING:
    from lingualift.stage import Stage

SKIP_PARTS = {"checkpoints", "report"}


def find_artifacts(run_dir: Path) -> list[tuple[Path, Stage]]:
    """Every report file under `run_dir` with the stage that wrote it, in registry order."""
    from lingualift.stages import registry

    found = []
    for stage in registry():
        if stage.report is None:
            continue
        for path in sorted(run_dir.rglob(stage.report)):
            parts = path.relative_to(run_dir).parts[:-1]
            if SKIP_PARTS & set(parts) or any(part.endswith(".work") for part in parts):
                continue
            if stage.reported(path):
                found.append((path, stage))
    return found


def build_sections(run_dir: Path) -> list[Section]:
    sections = []
    for path, stage in find_artifacts(run_dir):
        where = str(path.relative_to(run_dir))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            report = stage.report_type.model_validate(data) if stage.report_type else data
        # JSONDecodeError and pydantic's ValidationError are ValueErrors
        except (OSError, ValueError) as error:
            reason = str(error).splitlines()[0]
            sections.append(Section(f"Unreadable: {where}", where, f"could not be read: {reason}"))
            continue
        sections.append(stage.section(report, where))
    return sections


def write_report(
    run_dir: Path,
    out_dir: Path | None = None,
    *,
    title: str | None = None,
    leading: list[Section] | None = None,
) -> Path:
    """report.html (self-contained), report.md and the figures as PNG files in `out_dir`."""
    from lingualift.errors import DataError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    out_dir = Path(out_dir) if out_dir else run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = (leading or []) + build_sections(run_dir)
    if not any(
        s.rows or s.figure or s.extra_html for s in sections
    ):  # the pipeline's plan: a run --until source
        from lingualift.stages import registry

        names = ", ".join(s.report for s in registry() if s.report)
        raise DataError(f"{run_dir}: nothing to report — no {names} under it")
    title = title or f"lingualift report — {run_dir.name}"
    page = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>",
        "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}",
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
        "text-align:left;vertical-align:top}figure{margin:.75rem 0}figcaption,.by{font-size:.85rem;color:#555}"
        "img{max-width:100%}",
        "</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        "<ul>"
        + "".join(f"<li><a href='#s{i}'>{html.escape(s.title)}</a></li>" for i, s in enumerate(sections))
        + "</ul>",
    ]
    markdown = [f"# {title}", ""]
    for i, section in enumerate(sections):
        page.append(f"<section id='s{i}'><h2>{html.escape(section.title)}</h2>")
        page.append(
            f"<p class='by'>from <code>{html.escape(section.source)}</code> — {html.escape(section.produced_by)}</p>"
        )
        markdown += [f"## {section.title}", "", f"_from `{section.source}` — {section.produced_by}_", ""]
        if section.rows:
            page.append(
                "<table>"
                + "".join(
                    f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in section.rows
                )
                + "</table>"
            )
            markdown += (
                ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in section.rows] + [""]
            )
        if section.figure:
            name = f"figure-{i}.png"
            (out_dir / name).write_bytes(section.figure)
            data = base64.b64encode(section.figure).decode("ascii")
            page.append(
                f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(section.title)}'>"
                f"<figcaption>{html.escape(section.produced_by)}</figcaption></figure>"
            )
            markdown += [f"![{section.title}]({name})", ""]
        page.append(section.extra_html + "</section>")
        markdown += section.extra_md
    page.append(f"<p class='by'>{html.escape(_versions())}</p></body></html>")
    markdown += ["", f"_{_versions()}_", ""]
    (out_dir / "report.html").write_text("\n".join(page), encoding="utf-8")
    (out_dir / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    return out_dir / "report.html"


def _versions() -> str:
    from lingualift import __version__
    from lingualift.versions import REPORT_PACKAGES, versions

    found = versions(REPORT_PACKAGES)
    own = found.pop("lingualift", None) or __version__
    return f"report written by lingualift {own} ({', '.join(f'{k} {v}' for k, v in found.items())})"
