"""The pipeline report: one HTML page (and a Markdown twin) with every stage's figures, the loss
curves, and fidelity before/after with intervals. Images sit next to the page."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path


def fidelity_chart(results: dict, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    rates = [results[n]["pass_rate"] * 100 for n in names]
    low = [r - results[n]["ci95"][0] * 100 for r, n in zip(rates, names)]
    high = [results[n]["ci95"][1] * 100 - r for r, n in zip(rates, names)]
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(range(len(names)), rates, xerr=[low, high], color=["#4c72b0", "#999999"][: len(names)], capsize=4)
    ax.set_yticks(range(len(names)), [Path(n).name if "/" in n else n for n in names], fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("replies in the target language (%), 95% CI")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(work: Path, stage_list, summaries: dict, *, language: str) -> Path:
    out = work / "report"
    out.mkdir(parents=True, exist_ok=True)
    sections: list[tuple[str, str, list[str]]] = []  # (title, html body, markdown lines)
    rows = "".join(f"<tr><td>{s.name}</td><td>{s.action}</td><td>{html.escape(s.reason)}</td>"
                   f"<td>{_seconds(work, s.name)}</td></tr>" for s in stage_list)  # fmt: skip
    md = ["| stage | action | why | seconds |", "|---|---|---|---|"] + [
        f"| {s.name} | {s.action} | {s.reason} | {_seconds(work, s.name)} |" for s in stage_list
    ]
    sections.append(("Stages", f"<table><tr><th>stage</th><th>action</th><th>why</th><th>seconds</th></tr>{rows}"
                     "</table>", md))  # fmt: skip
    for name, summary in summaries.items():
        if name == "evaluate" or not summary:
            continue
        body = _figures(summary)
        lines = [f"- {k}: {json.dumps(v, default=str)}" for k, v in summary.items() if v is not None]
        curve = work / name / "loss_curve.png"
        if curve.is_file():
            shutil.copy(curve, out / f"{name}-loss.png")
            body += f'<p><img src="{name}-loss.png" alt="{name} loss curve"></p>'
            lines.append(f"![{name} loss]({name}-loss.png)")
        sections.append((name, body, lines))
    if "evaluate" in summaries:
        detail = json.loads((work / "evaluate" / "fidelity.json").read_text())
        fidelity_chart(detail, out / "fidelity.png", title=f"Language fidelity ({language})")
        table = "".join(f"<tr><td>{html.escape(n)}</td><td>{r['pass_rate']:.1%}</td><td>{r['ci95'][0]:.1%}–"
                        f"{r['ci95'][1]:.1%}</td><td>{r['replies']}</td><td>{html.escape(str(r['leaked_languages']))}"
                        "</td></tr>" for n, r in detail.items())  # fmt: skip
        failures = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(f['prompt'][:120])} → "
                           f"<i>{html.escape(f['reply'][:200])}</i> ({', '.join(f['leaked'])})</li>"
                           for n, r in detail.items() for f in r["failure_examples"][:3])  # fmt: skip
        body = ("<table><tr><th>model</th><th>pass rate</th><th>95% CI</th><th>replies</th><th>leaked</th></tr>"
                f"{table}</table><p><img src=\"fidelity.png\" alt=\"fidelity chart\"></p>"
                f"<p>method: {html.escape(next(iter(detail.values()))['method'])}</p><ul>{failures}</ul>")  # fmt: skip
        lines = [f"- {n}: {r['pass_rate']:.1%} (95% CI {r['ci95'][0]:.1%}–{r['ci95'][1]:.1%}) of {r['replies']} "
                 f"replies; leaked {r['leaked_languages']}" for n, r in detail.items()]  # fmt: skip
        lines.append("![fidelity](fidelity.png)")
        sections.append(("Language fidelity: before and after", body, lines))
    page = ["<!doctype html><html><head><meta charset='utf-8'><title>lingualift report</title><style>",
            "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}",
            "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}",
            "</style></head><body>", f"<h1>lingualift report — {html.escape(language)}</h1>"]  # fmt: skip
    page += [f"<h2>{html.escape(title)}</h2>{body}" for title, body, _ in sections] + ["</body></html>"]
    (out / "report.html").write_text("\n".join(page), encoding="utf-8")
    markdown = [f"# lingualift report — {language}", ""]
    for title, _, lines in sections:
        markdown += [f"## {title}", "", *lines, ""]
    (out / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    return out / "report.html"


def _figures(summary: dict) -> str:
    cells = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v, default=str))}</td></tr>"
                    for k, v in summary.items() if v is not None)  # fmt: skip
    return f"<table>{cells}</table>"


def _seconds(work: Path, name: str) -> str:
    path = work / name / "stage.json"
    return str(json.loads(path.read_text()).get("seconds", "")) if path.is_file() else ""
