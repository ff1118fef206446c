"""A report section and the pieces stages build one from (figure tables, PNG plots). Stages import
this, `lingualift.report` (the page writer) imports this and the stage registry; nothing here
imports either, so the three do not import each other in a circle."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    title: str
    source: str  # the file the section was built from, relative to the run directory
    produced_by: str  # model, data, settings, versions: how the numbers were made
    rows: list[tuple[str, str]] = field(default_factory=list)  # figure table
    figure: bytes | None = None  # PNG
    extra_html: str = ""
    extra_md: list[str] = field(default_factory=list)


def png(draw, *, size=(6.4, 3.2)) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(fig, ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def fmt(value) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return (
        json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)
    )


def pick(report, keys) -> list[tuple[str, str]]:
    """(label, value) of the fields of `report` (a typed report or a dict) that have a value."""
    values = [(k, report.get(k) if isinstance(report, dict) else getattr(report, k, None)) for k in keys]
    return [(k.replace("_", " "), fmt(v)) for k, v in values if v is not None]


def bars(counts: dict, *, title: str, xlabel: str) -> bytes:
    def draw(fig, ax):
        ax.barh(range(len(counts)), list(counts.values()), color="#4c72b0")
        ax.set_yticks(range(len(counts)), list(counts), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)

    return png(draw)


def short(name: str) -> str:
    return "+".join(Path(part).name if "/" in part else part for part in name.split("+"))
