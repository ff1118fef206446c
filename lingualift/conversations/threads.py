"""The conversations stage: any supported source → `messages` threads (+ preference pairs)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import ConfigDict, Field, model_validator

from lingualift.conversations import formats
from lingualift.conversations.oasst import (
    REQUIRED_COLUMNS,
    Message,
    all_path_threads,
    best_ranked_threads,
    index_columns,
    preference_pairs,
)
from lingualift.data_push import DataPush
from lingualift.errors import ConfigError
from lingualift.reports import StageReport
from lingualift.stage import STEP_FOLDER, Link


class ThreadsConfig(DataPush):
    """Options of `lingualift threads` (and the pipeline's `threads:` section)."""

    model_config = ConfigDict(extra="forbid")

    source: Annotated[str | None, Link("the translate step's data")] = Field(
        None, description="Dataset: hub id, save_to_disk dir, or jsonl/csv/parquet files"
    )
    out: Annotated[str | None, Link(STEP_FOLDER)] = Field(
        None, description="Output directory for the threads (save_to_disk)"
    )
    pairs_out: Annotated[str | None, Link(STEP_FOLDER)] = Field(
        None, description="Also write DPO/ORPO preference pairs (oasst ranks) here"
    )
    split: Annotated[str | None, Link("every split (the held-out conversations come from all of them)")] = (
        Field(None, description="Only this split of the source")
    )
    lang: Annotated[str | None, Link("language")] = Field(
        None, description="Language of the conversations (code or name); default: each row's `lang`"
    )
    system_prompt: str | None = Field(
        None, description="System prompt for every conversation; default: 'answer in <language>'"
    )
    no_system_prompt: bool = Field(False, description="Add no system prompt")
    strategy: Literal["best", "all-paths"] = Field(
        "best", description="oasst: follow the best-ranked reply (LLaMa2lang) or every path"
    )
    format: Literal["auto", "oasst", "sharegpt", "alpaca", "openai", "dolly"] = Field(
        "auto", description="Input format; auto-detected from the columns"
    )
    keep_deleted: bool = Field(False, description="oasst: keep deleted messages and failed reviews")
    all_pairs: bool = Field(
        False, description="Preference pairs: every ordered ranked pair, not only best vs worst"
    )
    render: bool = Field(False, description="Add a rendered `text` column")
    template: str | None = Field(None, description="Jinja chat template file for --render")
    model: str | None = Field(None, description="Model whose tokenizer's chat template renders")

    @model_validator(mode="after")
    def _check(self) -> ThreadsConfig:
        if self.no_system_prompt and self.system_prompt:
            raise ValueError("system_prompt and no_system_prompt exclude each other")
        if self.render and not (self.template or self.model):
            raise ValueError("render needs a template file or a model whose tokenizer has one")
        return self


SYSTEM_PROMPT = "You are a helpful assistant. Always answer in {language}."  # {language}: the English name


def default_system_prompt(lang: str | None) -> str | None:
    if not lang:
        return None
    from lingualift.languages import get_language

    return SYSTEM_PROMPT.format(language=get_language(lang).name)


def _as_messages(path: list[Message]) -> list[dict]:
    return [{"role": m.role, "content": m.text} for m in path]


def _with_system(messages: list[dict], system: str | None) -> list[dict]:
    if system is None or (messages and messages[0]["role"] == "system"):
        return messages
    return [{"role": "system", "content": system}] + messages


class _SystemPrompts:
    """The system prompt for a conversation: fixed, none, or built from its language."""

    def __init__(self, config: ThreadsConfig):
        self.config = config
        self.cache: dict[str | None, str | None] = {}

    def __call__(self, lang: str | None) -> str | None:
        if self.config.no_system_prompt:
            return None
        if self.config.system_prompt:
            return self.config.system_prompt
        if lang not in self.cache:
            self.cache[lang] = default_system_prompt(lang)
        return self.cache[lang]


def build_threads(data, config: ThreadsConfig):
    """(threads DatasetDict, pairs DatasetDict or None, report dict) for every split of `data`."""
    import datasets

    from lingualift.io import dataset_from_rows

    started = time.perf_counter()
    lang = _normalised_lang(config.lang)
    system_for = _SystemPrompts(config)
    renderer = _renderer(config)
    threads_out, pairs_out, report = {}, {}, {"splits": {}}
    for split, part in data.items():
        fmt = formats.detect_format(part.column_names) if config.format == "auto" else config.format
        if fmt == "oasst":
            rows, pairs, counts, ids = _oasst_split(part, config, lang, system_for)
        else:
            rows, counts = _other_split(part, fmt, lang, system_for)
            pairs, ids = [], set()
        if renderer:
            for row in rows:
                row["text"] = renderer(row["messages"])
        threads_out[split] = dataset_from_rows(rows, _thread_features(renderer))
        if pairs:
            pairs_out[split] = dataset_from_rows(pairs, _pair_features())
        counts["threads"] = len(rows)
        counts["pairs"] = len(pairs)
        report["splits"][split] = {"format": fmt, **dict(sorted(counts.items()))}
        report["splits"][split]["thread_message_ids"] = len(ids)
        report.setdefault("_ids", {})[split] = sorted(ids)
    report["seconds"] = round(time.perf_counter() - started, 3)
    pairs_dict = datasets.DatasetDict(pairs_out) if pairs_out else None
    return datasets.DatasetDict(threads_out), pairs_dict, report


def _normalised_lang(lang: str | None) -> str | None:
    if lang is None:
        return None
    from lingualift.languages import get_language

    return get_language(lang).tag


def _oasst_split(part, config: ThreadsConfig, lang, system_for):
    missing = [c for c in REQUIRED_COLUMNS if c not in part.column_names]
    if missing:
        raise ConfigError(
            f"oasst format needs columns {', '.join(missing)} — it has {', '.join(part.column_names)}"
        )
    wanted = [
        c for c in (*REQUIRED_COLUMNS, "rank", "lang", "deleted", "review_result") if c in part.column_names
    ]
    columns = part.select_columns(wanted).to_dict()  # only the columns a walk reads, straight from Arrow
    forest = index_columns(columns, len(part), keep_deleted=config.keep_deleted, lang=lang)
    walk = best_ranked_threads if config.strategy == "best" else all_path_threads
    rows, ids = [], set()
    for path in walk(forest):
        conv_lang = lang or path[0].lang
        ids.update(m.id for m in path)
        rows.append(
            {
                "id": path[0].id if config.strategy == "best" else path[-1].id,
                "lang": conv_lang,
                "messages": _with_system(_as_messages(path), system_for(conv_lang)),
            }
        )
    pairs = []
    for pair in preference_pairs(forest, all_pairs=config.all_pairs):
        conv_lang = lang or pair.prompt[0].lang
        pairs.append(
            {
                "id": f"{pair.chosen.id}>{pair.rejected.id}",
                "lang": conv_lang,
                "prompt": _with_system(_as_messages(pair.prompt), system_for(conv_lang)),
                "chosen": [{"role": "assistant", "content": pair.chosen.text}],
                "rejected": [{"role": "assistant", "content": pair.rejected.text}],
            }
        )
    counts = Counter(forest.report)
    counts["trees"] = len(forest.roots)
    counts["messages_kept"] = len(forest.messages)
    return rows, pairs, counts, ids


def _other_split(part, fmt: str, lang, system_for):
    convert = formats.CONVERTERS[fmt]
    rows, counts = [], Counter()
    for index, row in enumerate(part):
        counts["rows"] += 1
        messages, reason = convert(row)
        if messages is None:
            counts[f"skipped_{reason}"] += 1
            continue
        conv_lang = lang or row.get("lang")
        rows.append(
            {
                "id": str(row.get("id", index)),
                "lang": conv_lang,
                "messages": _with_system(messages, system_for(conv_lang)),
            }
        )
    return rows, counts


def _message_feature():
    import datasets

    return [{"role": datasets.Value("string"), "content": datasets.Value("string")}]


def _thread_features(rendered: bool):
    import datasets

    features = {
        "id": datasets.Value("string"),
        "lang": datasets.Value("string"),
        "messages": _message_feature(),
    }
    if rendered:
        features["text"] = datasets.Value("string")
    return datasets.Features(features)


def _pair_features():
    import datasets

    return datasets.Features(
        {
            "id": datasets.Value("string"),
            "lang": datasets.Value("string"),
            "prompt": _message_feature(),
            "chosen": _message_feature(),
            "rejected": _message_feature(),
        }
    )


def _renderer(config: ThreadsConfig):
    if not config.render:
        return None
    from lingualift.conversations.template import load_template, render

    template = load_template(config.template) if config.template else None
    tokenizer = None
    if config.model:
        from transformers import AutoTokenizer

        from lingualift.models import resolve_model

        tokenizer = AutoTokenizer.from_pretrained(resolve_model(config.model))
    return lambda messages: render(messages, tokenizer=tokenizer, template=template)


class ThreadsReport(StageReport):
    """threads_report.json: per split its format and counts (threads, pairs, every skipped message
    by reason as skipped_<reason>, thread_message_ids)."""

    splits: dict[str, dict[str, Union[int, str]]] = Field(default_factory=dict)
    seconds: Optional[float] = None
    source: Optional[str] = None
    out: Optional[str] = None
    config: dict[str, Any] = Field(default_factory=dict)  # the ThreadsConfig it ran with
    pairs_out: Optional[str] = None
    pairs_note: Optional[str] = None  # why no pairs were written
    pushed_to: Optional[str] = None  # --push-to-hub: the dataset repo's URL


def write_threads(config: ThreadsConfig) -> ThreadsReport:
    """Load the source, build threads (and pairs), save them, write the report; return the report."""
    import datasets

    from lingualift.data_push import push_data, require_token
    from lingualift.io import load_source, save_dataset

    if config.source is None or config.out is None:
        raise ConfigError("threads needs a source dataset and --out (where the threads go)")
    source, out, pairs_out, split = config.source, config.out, config.pairs_out, config.split
    require_token(config)
    data = load_source(source, split=split)
    if isinstance(data, datasets.Dataset):
        data = datasets.DatasetDict({split: data})
    threads, pairs, built = build_threads(data, config)
    out_dir = save_dataset(threads, out)
    report = ThreadsReport(
        splits=built["splits"],
        seconds=built["seconds"],
        source=source,
        out=str(out_dir),
        config=config.model_dump(),
    )
    if pairs_out and pairs is None:
        report.pairs_note = "no split had two or more ranked answers to one prompt"
    elif pairs_out:
        report.pairs_out = str(save_dataset(pairs, pairs_out))
    (Path(out_dir) / "thread_message_ids.json").write_text(json.dumps(built.get("_ids", {})))
    report.write(Path(out_dir) / "threads_report.json")
    if config.push_to_hub:
        langs = sorted(
            {lang for part in threads.values() if "lang" in part.column_names for lang in part["lang"]}
        )
        report.pushed_to = push_data(
            config,
            out_dir,
            what=f"Conversations ({config.strategy} threads)",
            source=source,
            made_by="lingualift threads",
            languages=[x for x in langs if x] or ([config.lang] if config.lang else []),
            counts={
                f"{name} {key}": value
                for name, counts in built["splits"].items()
                for key, value in counts.items()
            },
        )
        report.write(Path(out_dir) / "threads_report.json")
    return report
