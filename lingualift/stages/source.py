"""The pipeline's first step: the data to translate (the embedded demo sample or the configured
source), cut to `limit` rows per split. It has no command of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Union

from pydantic import BaseModel, Field

from lingualift.errors import DataError
from lingualift.stage import Pipeline, Stage, Step

FIELDS = {
    "source": (
        Optional[Union[str, list[str]]],
        Field(
            None,
            description="Dataset to translate (path, hub id, id:config), or a list of them: rows keep a "
            "`source` column, rows repeating an earlier source's are dropped and counted; none = the "
            "embedded English demo sample",
        ),
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
    "keep_where": (
        Optional[dict[str, Union[str, int, float, bool]]],
        Field(
            None,
            description="Keep only rows whose columns hold these values; a key may index into a column: "
            "`response[1]: stop` keeps tagengo rows whose answer finished (Suzume's filter)",
        ),
    ),
    "limit": (
        Optional[int],
        Field(
            None,
            gt=0,
            description="Only the first N rows of each split, of each source (quick runs; a hub dataset "
            "is streamed, so a dump is not downloaded whole)",
        ),
    ),
}


def plan(config, plan) -> None:
    from lingualift.pipeline.runner import path_fingerprint

    settings = {"source": config.source, "limit": config.limit, "text_field": config.text_field}
    if config.keep_where:  # (only when set: a run from before the option keeps its fingerprint)
        settings["keep_where"] = config.keep_where
    sources = config.source if isinstance(config.source, list) else [config.source]
    fingerprint = "|".join(path_fingerprint(one) for one in sources)
    plan.steps.append(Step("source", STAGE, None, settings=settings, inputs={"source": fingerprint}))


def run(step: Step, work: Path, echo) -> dict:
    """The embedded demo sample, or the configured source cut to `limit` rows per split."""
    import datasets

    from lingualift.io import load_source, save_dataset
    from lingualift.translate.formats import detect_format

    source, limit, text_field = (step.settings[key] for key in ("source", "limit", "text_field"))
    merged = None
    if source is None:
        from lingualift.demo.sample import load_sample

        data, name = load_sample(), "demo sample (English, oasst1 format)"
        if limit:  # a loaded source is cut as it is read (load_source's max_rows)
            data = datasets.DatasetDict({k: v.select(range(min(limit, len(v)))) for k, v in data.items()})
    elif isinstance(source, list) and len(source) > 1:
        merged = combine(source, limit, text_field)
        data, name = merged.data, " + ".join(source)
    else:
        name = source[0] if isinstance(source, list) else source
        data = load_source(name, max_rows=limit)
    kept_where = None
    if step.settings.get("keep_where"):
        data, kept_where = keep_where(data, step.settings["keep_where"], name)
        echo(f"keep_where: {kept_where['kept']} of {kept_where['read']} rows kept ({kept_where['rule']})")
    columns = next(iter(data.values())).column_names
    try:  # oasst or any text column, or a chat/instruction/preference format translate reads
        fmt = detect_format(columns, text_field, text_named=text_field != "text")
    except DataError as error:
        raise DataError(f"{name}: {error}") from None
    save_dataset(data, work / step.name / "data")
    rows = {split: len(part) for split, part in data.items()}
    label = name if fmt == "text" else f"{name} ({fmt} format)"
    echo(f"source: {label} — " + ", ".join(f"{s}: {n} rows" for s, n in rows.items()))
    summary = SourceSummary(source=name, rows=rows, format=fmt, oasst="parent_id" in columns)
    if kept_where:
        summary.filtered_out = kept_where["read"] - kept_where["kept"]
    if merged is not None:
        summary.by_source, summary.duplicates_across_sources = merged.by_source, merged.duplicates
        summary.left_out = merged.left_out
        echo(
            "sources: "
            + ", ".join(f"{k} {n} rows" for k, n in merged.by_source.items())
            + f"; {merged.duplicates} rows repeating an earlier source's dropped"
            + "".join(f"; {n} left out ({reason})" for reason, n in merged.left_out.items())
        )
    return summary.model_dump()


def _value_at(row: dict, key: str):
    """`column`, `column[1]` or `column.field` of a row; a KeyError/IndexError/TypeError if absent."""
    import re

    column, rest = re.match(r"([^\[.]+)(.*)", key).groups()
    value = row[column]
    for index, field in re.findall(r"\[(-?\d+)\]|\.([^\[.]+)", rest):
        value = value[int(index)] if index else value[field]
    return value


def keep_where(data, rules: dict, name: str):
    """The rows matching every rule (others counted); (data, {read, kept, rule})."""
    import datasets

    columns = next(iter(data.values())).column_names
    for key in rules:
        column = key.split("[")[0].split(".")[0]
        if column not in columns:
            raise DataError(f"{name}: keep_where names no column '{column}' (columns: {', '.join(columns)})")

    def matches(row) -> bool:
        try:
            return all(_value_at(row, key) == value for key, value in rules.items())
        except (KeyError, IndexError, TypeError):
            return False

    read = sum(len(part) for part in data.values())
    kept = datasets.DatasetDict({split: part.filter(matches) for split, part in data.items()})
    if not any(len(part) for part in kept.values()):
        raise DataError(f"{name}: keep_where kept none of its {read} rows — check the values ({rules})")
    rule = ", ".join(f"{key} == {value!r}" for key, value in rules.items())
    return kept, {"read": read, "kept": sum(len(part) for part in kept.values()), "rule": rule}


class Combined(BaseModel):
    """Several sources as one dataset: rows kept per source, duplicates dropped, rows left out."""

    model_config = {"arbitrary_types_allowed": True}
    data: object
    by_source: dict[str, int]
    duplicates: int
    left_out: dict[str, int]


def combine(sources: list[str], limit: int | None, text_field: str) -> Combined:
    """Each source loaded (`limit` rows per split), a `source` column added, the splits concatenated.
    Sources of one format keep the columns they share; of different chat formats (alpaca, dolly,
    sharegpt, openai), each row becomes `messages` (a row with an empty turn is left out and
    counted). A row whose content an earlier source already had is dropped and counted."""
    import json
    from collections import Counter

    import datasets

    from lingualift.conversations.formats import CONVERTERS
    from lingualift.io import load_source
    from lingualift.translate.formats import detect_format

    loaded = {}
    for spec in sources:
        data = load_source(spec, max_rows=limit)
        columns = next(iter(data.values())).column_names
        if "parent_id" in columns:
            raise DataError(
                f"{spec}: message trees (oasst) cannot be combined with other sources — translate it in a run of its own"
            )
        try:
            loaded[spec] = (data, detect_format(columns, text_field, text_named=text_field != "text"))
        except DataError as error:
            raise DataError(f"{spec}: {error}") from None
    formats = {fmt for _, fmt in loaded.values()}
    convert = len(formats) > 1
    if convert and not formats <= set(CONVERTERS):
        listed = ", ".join(f"{spec} ({fmt})" for spec, (_, fmt) in loaded.items())
        raise DataError(
            f"sources of different formats ({listed}): only chat formats (alpaca, dolly, sharegpt, openai) "
            "can be combined, as messages — convert the others to one format first"
        )
    shared: list[str] = []
    if not convert:  # the columns every source has, in the first one's order
        columns = [next(iter(data.values())).column_names for data, _ in loaded.values()]
        shared = [c for c in columns[0] if c != "source" and all(c in names for names in columns)]
    seen: set[str] = set()
    by_source: dict[str, int] = {}
    left_out: Counter = Counter()
    duplicates = 0
    splits: dict[str, list[dict]] = {}
    for spec, (data, fmt) in loaded.items():
        kept, new_keys = 0, set()
        for split, part in data.items():
            for row in part:
                if convert:
                    messages, reason = CONVERTERS[fmt](row)
                    if messages is None:
                        left_out[f"{spec}: {reason}"] += 1
                        continue
                    out = {"messages": messages}
                else:
                    out = {c: row[c] for c in shared}
                key = json.dumps(out, sort_keys=True, ensure_ascii=False)
                if key in seen:
                    duplicates += 1
                    continue
                new_keys.add(key)
                splits.setdefault(split, []).append({**out, "source": spec})
                kept += 1
        seen |= new_keys  # duplicates within one source are kept: translate stores each string once
        by_source[spec] = kept
    combined = datasets.DatasetDict(
        {split: datasets.Dataset.from_list(rows) for split, rows in splits.items()}
    )
    return Combined(data=combined, by_source=by_source, duplicates=duplicates, left_out=dict(left_out))


class SourceSummary(BaseModel):
    """The source step's summary (it writes no report): what was read, rows per split, its format."""

    source: str
    rows: dict[str, int] = Field(default_factory=dict)
    format: str = "text"
    oasst: bool = False  # message trees: translate only the messages on best-ranked threads
    by_source: dict[str, int] = Field(default_factory=dict)  # several sources: rows kept from each
    duplicates_across_sources: int = 0  # rows dropped: an earlier source had the same content
    left_out: dict[str, int] = Field(default_factory=dict)  # "source: reason" -> rows (an empty turn)
    filtered_out: int = 0  # rows keep_where did not keep


def figure(summary: SourceSummary) -> str:
    return ", ".join(f"{split} {n} rows" for split, n in summary.rows.items())


STAGE = Stage("source", pipeline=Pipeline(FIELDS, plan, run, figure, summary_type=SourceSummary))
