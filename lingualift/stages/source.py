"""The pipeline's first step: the data to translate (the embedded demo sample or the configured
source), cut to `limit` rows per split. It has no command of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field

from lingualift.errors import DataError
from lingualift.stage import Pipeline, Stage, Step

FIELDS = {
    "source": (
        Optional[str],
        Field(None, description="Dataset to translate; none = the embedded English demo sample"),
    ),
    "source_lang": (
        Optional[str],
        Field(None, description="Source language when rows have no `lang` column"),
    ),
    "text_field": (
        str,
        Field(
            "text", description="Column holding the message text (other formats are found by their columns)"
        ),
    ),
    "limit": (
        Optional[int],
        Field(None, gt=0, description="Only the first N rows of each split (quick runs)"),
    ),
}


def plan(config, plan) -> None:
    from lingualift.pipeline.runner import path_fingerprint

    settings = {"source": config.source, "limit": config.limit, "text_field": config.text_field}
    plan.steps.append(
        Step("source", STAGE, None, settings=settings, inputs={"source": path_fingerprint(config.source)})
    )


def run(step: Step, work: Path, echo) -> dict:
    """The embedded demo sample, or the configured source cut to `limit` rows per split."""
    import datasets

    from lingualift.io import load_source, save_dataset
    from lingualift.translate.formats import detect_format

    source, limit, text_field = (step.settings[key] for key in ("source", "limit", "text_field"))
    if source is None:
        from lingualift.demo.sample import load_sample

        data, name = load_sample(), "demo sample (English, oasst1 format)"
    else:
        data, name = load_source(source), source
    columns = next(iter(data.values())).column_names
    try:  # oasst or any text column, or a chat/instruction/preference format translate reads
        fmt = detect_format(columns, text_field, text_named=text_field != "text")
    except DataError as error:
        raise DataError(f"{name}: {error}") from None
    if limit:
        data = datasets.DatasetDict({k: v.select(range(min(limit, len(v)))) for k, v in data.items()})
    save_dataset(data, work / step.name / "data")
    rows = {split: len(part) for split, part in data.items()}
    label = name if fmt == "text" else f"{name} ({fmt} format)"
    echo(f"source: {label} — " + ", ".join(f"{s}: {n} rows" for s, n in rows.items()))
    return SourceSummary(source=name, rows=rows, format=fmt, oasst="parent_id" in columns).model_dump()


class SourceSummary(BaseModel):
    """The source step's summary (it writes no report): what was read, rows per split, its format."""

    source: str
    rows: dict[str, int] = Field(default_factory=dict)
    format: str = "text"
    oasst: bool = False  # message trees: translate only the messages on best-ranked threads


def figure(summary: SourceSummary) -> str:
    return ", ".join(f"{split} {n} rows" for split, n in summary.rows.items())


STAGE = Stage("source", pipeline=Pipeline(FIELDS, plan, run, figure, summary_type=SourceSummary))
