"""`lingualift eval benchmark`: a multiple-choice dataset (translated by lingualift, or native) scored by
log-likelihood through lm-evaluation-harness (a task YAML written for it), the tuned model and the one
to compare side by side, flagged items left out and counted, chance level beside the scores."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Optional

from pydantic import BaseModel, ConfigDict, Field

from lingualift.errors import DataError
from lingualift.models import ModelPlacement
from lingualift.reports import StageReport
from lingualift.stage import STEP_FOLDER, Link

Z95 = 1.959964  # a normal 95% interval from the harness's standard error


class BenchmarkConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    data: Annotated[str, Link("the benchmark's translation")] = Field(
        description="Multiple-choice dataset (TruthfulQA, ARC, MMLU, HellaSwag, Belebele shapes): a "
        "`translate` output, files, a save_to_disk dir or a hub id (id:config)"
    )
    model: Annotated[str, Link("the last trained model")] = Field(
        description="Model: hub id, local directory, `demo`, or a LoRA adapter directory"
    )
    adapter: Optional[str] = Field(None, description="LoRA adapter on top of --model")
    compare: Annotated[Optional[str], Link("model")] = Field(
        None,
        description="Also score this model (the base you tuned, or a LoRA adapter directory), side by side",
    )
    original: Annotated[Optional[str], Link("evaluate.benchmark.source")] = Field(
        None, description="The source-language dataset the data was translated from, scored by --model too"
    )
    split: Optional[str] = Field(None, description="Split to score (default: test, else the first)")
    limit: Optional[int] = Field(None, gt=0, description="Only the first N items (a quick look)")
    batch_size: int = Field(8, gt=0, description="Requests per forward pass")
    out: Annotated[str, Link(STEP_FOLDER)] = Field(
        description="Write benchmark.json (and the task files) here"
    )


class Scored(BaseModel):
    """One model on one dataset: accuracy and length-normalised accuracy with 95% intervals."""

    model: str
    data: str
    items: int
    acc: float
    acc_stderr: Optional[float] = None
    acc_ci95: Optional[list[float]] = None
    acc_norm: Optional[float] = None
    acc_norm_stderr: Optional[float] = None
    acc_norm_ci95: Optional[list[float]] = None


class BenchmarkReport(StageReport):
    """benchmark.json: the data, items scored and left out (by reason), chance, each model's scores."""

    data: Optional[str] = None
    shape: Optional[str] = None
    items: int = 0
    left_out: dict[str, int] = Field(default_factory=dict)  # flagged by translate QE, ...
    chance: Optional[float] = None  # the mean of 1 / choices: what guessing scores
    scores: list[Scored] = Field(default_factory=list)
    harness_version: Optional[str] = None


def benchmark_items(data, where: str, limit: int | None = None) -> tuple[list[dict], dict[str, int], str]:
    """(items {query, choices, gold}, left out by reason, the shape's name) of a multiple-choice split.
    A translated item carrying a QE flag is left out and counted; a label naming no choice, or two
    identical choices (the item cannot be scored), is an error naming the row."""
    from lingualift import multiple_choice

    shape = multiple_choice.detect(data.features)
    if shape is None:
        raise DataError(
            f"{where}: not a multiple-choice dataset (columns: {', '.join(data.column_names)}) — expected "
            "question/choices/label columns as TruthfulQA, ARC, MMLU, HellaSwag or Belebele ship them"
        )
    items, left_out = [], {}
    for index, row in enumerate(data):
        if limit and len(items) >= limit:
            break
        if row.get("qe_flags"):
            left_out["translation_flagged"] = left_out.get("translation_flagged", 0) + 1
            continue
        choices = [str(c or "").strip() for c in multiple_choice.choices(shape, row)]
        gold = multiple_choice.label_index(shape, row, f"{where} row {index}")
        if len(set(choices)) < len(choices) or "" in choices:
            raise DataError(
                f"{where} row {index}: two of its choices are identical or empty ({choices}) — the item "
                "cannot be scored; fix or drop it (after translation: retranslate or review it)"
            )
        question = str(multiple_choice.value(row, shape.question) or "").strip()
        passage = str(multiple_choice.value(row, shape.passage) or "").strip() if shape.passage else ""
        if shape.name == "hellaswag":  # a context and its continuations
            query = question
        else:
            query = (f"{passage}\n\n" if passage else "") + f"Question: {question}\nAnswer:"
        items.append({"query": query, "choices": [f" {c}" for c in choices], "gold": gold})
    if not items:
        raise DataError(f"{where}: no item left to score ({left_out})")
    return items, left_out, shape.name


def write_task(items: list[dict], folder: Path) -> str:
    """The items as JSONL and an lm-eval task YAML over them (log-likelihood of each choice after the
    query; acc and acc_norm); the task's name."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    name = "lingualift_benchmark_" + hashlib.sha256(text.encode()).hexdigest()[:12]
    (folder / f"{name}.jsonl").write_text(text)
    task = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str((folder / f"{name}.jsonl").resolve())}},
        "test_split": "test",
        "output_type": "multiple_choice",
        "doc_to_text": "{{query}}",
        "doc_to_choice": "choices",
        "doc_to_target": "gold",
        "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ],
    }
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(task, sort_keys=False, allow_unicode=True))
    return name


def _interval(score: float, stderr) -> list[float] | None:
    if not isinstance(stderr, (int, float)) or math.isnan(stderr):
        return None
    return [round(max(0.0, score - Z95 * stderr), 4), round(min(1.0, score + Z95 * stderr), 4)]


def _load_items(spec: str, split: str | None, limit: int | None):
    from lingualift.io import load_source

    data = load_source(spec)
    name = split or ("test" if "test" in data else next(iter(data)))
    if name not in data:
        raise DataError(f"{spec}: no split '{name}' — it has {', '.join(data)}")
    return benchmark_items(data[name], spec, limit)


def run_benchmark(config: BenchmarkConfig, *, echo=print) -> BenchmarkReport:
    from lingualift.evaluate.harness import HarnessConfig, run_harness

    out = Path(config.out)
    items, left_out, shape = _load_items(config.data, config.split, config.limit)
    chance = sum(1 / len(item["choices"]) for item in items) / len(items)
    echo(
        f"benchmark: {len(items)} {shape} items from {config.data}"
        + (f", left out {left_out}" if left_out else "")
        + f"; chance {chance:.3f}"
    )
    runs = [(config.data, items, config.model, config.adapter)]
    if config.compare:
        runs.append((config.data, items, config.compare, None))
    if config.original:
        original, _, _ = _load_items(config.original, config.split, config.limit)
        runs.append((config.original, original, config.model, config.adapter))
    placement = {k: getattr(config, k) for k in ModelPlacement.model_fields}
    report = BenchmarkReport(
        data=config.data, shape=shape, items=len(items), left_out=left_out, chance=chance
    )
    for data, its, model, adapter in runs:
        task = write_task(its, out / "tasks")
        harness = run_harness(
            HarnessConfig(
                model=model,
                adapter=adapter,
                tasks=task,
                include_path=str(out / "tasks"),
                num_fewshot=0,
                batch_size=config.batch_size,
                **placement,
            ),
            echo=lambda *_: None,
        )
        values, errors = harness.scores[task], harness.stderr[task]
        scored = Scored(
            model=f"{model}+{adapter}" if adapter else model,
            data=data,
            items=len(its),
            acc=values["acc"],
            acc_stderr=errors.get("acc"),
            acc_ci95=_interval(values["acc"], errors.get("acc")),
            acc_norm=values.get("acc_norm"),
            acc_norm_stderr=errors.get("acc_norm"),
            acc_norm_ci95=_interval(values["acc_norm"], errors.get("acc_norm"))
            if "acc_norm" in values
            else None,
        )
        report.scores.append(scored)
        report.harness_version = harness.harness_version
        interval = f" (95% {scored.acc_ci95[0]:.3f}–{scored.acc_ci95[1]:.3f})" if scored.acc_ci95 else ""
        echo(f"  {scored.model} on {data}: acc {scored.acc:.3f}{interval}, acc_norm {scored.acc_norm:.3f}")
    report.write(out / "benchmark.json")
    return report
