"""Plan and run the pipeline: one folder per stage, each with a fingerprint of its config, its
upstream stages' fingerprints and the package versions. An unchanged finished stage is skipped; a
changed one reruns with everything downstream. A stage killed half-way resumes inside itself
(translate store, training checkpoints) when the same command runs again."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from lingualift.errors import ConfigError
from lingualift.pipeline import stages
from lingualift.pipeline.config import PipelineConfig, stage_configs, stage_suffix
from lingualift.versions import versions

VOLATILE = {"resume"}  # options that do not change a stage's result


@dataclass
class Stage:
    name: str
    config: dict
    upstream: list[str]
    run: object = None  # callable(work) -> summary
    keep_on_upstream_change: bool = False  # translate: its store stays valid for the same translator
    fingerprint: str = ""
    action: str = ""
    reason: str = ""
    extra_inputs: dict = field(default_factory=dict)


def path_fingerprint(spec: str | None) -> str:
    """Local files: names, sizes and modification times; anything else (a hub id): the id itself."""
    if spec is None:
        from lingualift.demo import sample

        return hashlib.sha256(Path(sample.__file__).with_name("oasst_sample.yaml").read_bytes()).hexdigest()[
            :16
        ]
    path = Path(spec)
    if not path.exists():
        return f"id:{spec}"
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for file in files:
        stat = file.stat()
        digest.update(f"{file.relative_to(path.parent)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _dump(config: BaseModel | dict) -> dict:
    data = config.model_dump() if isinstance(config, BaseModel) else dict(config)
    return {k: v for k, v in data.items() if k not in VOLATILE}


def build_stages(config: PipelineConfig, *, echo=print) -> list[Stage]:
    work = Path(config.work_dir)
    built = stage_configs(config)
    result = [Stage("source", {"source": config.source, "limit": config.limit, "text_field": config.text_field},
                    [], extra_inputs={"source": path_fingerprint(config.source)})]  # fmt: skip
    state: dict = {}

    def run_source(_):
        state.update(stages.prepare_source(config, work, echo=echo))
        return state

    def oasst() -> bool:
        if "oasst" not in state:
            state.update(stages.read_json(work / "source" / "stage.json")["summary"])
        return state["oasst"]

    result[0].run = run_source
    holdout = config.evaluate.holdout if config.evaluate.fidelity is not None else 0
    tags = [built[name].lang for name in built if name.startswith("threads")]
    threads_stages = []
    for tag in tags:
        suffix = stage_suffix(tag, len(tags) > 1)
        translate_name, threads_name = f"translate{suffix}", f"threads{suffix}"
        translate_config, threads_config = built[translate_name], built[threads_name]
        result.append(Stage(translate_name, _dump(translate_config), ["source"], keep_on_upstream_change=True,
                            run=lambda _, c=translate_config, n=translate_name: stages.translate(
                                c, work, oasst=oasst(), stage=n, echo=echo)))  # fmt: skip
        result.append(Stage(threads_name, {**_dump(threads_config), "holdout": holdout}, [translate_name],
                            run=lambda _, c=threads_config, n=threads_name, t=translate_name: stages.threads(
                                c, work, holdout=holdout, stage=n, translated=t, echo=echo)))  # fmt: skip
        threads_stages.append(threads_name)
    previous = None
    for method in ("cpt", "sft", "dpo", "orpo"):
        name = f"train-{method}"
        if name not in built:
            continue
        train_config = built[name]
        upstream = ([previous] if previous else []) + (threads_stages if method != "cpt" else [])
        extra = {"data": path_fingerprint(train_config.data)} if method == "cpt" else {}
        result.append(Stage(name, _dump(train_config), upstream, extra_inputs=extra,
                            run=lambda _, c=train_config: stages.train(c, work, echo=echo)))  # fmt: skip
        previous = name
    if "evaluate" in built:
        evaluate_config = built["evaluate"]
        upstream = threads_stages + ([previous] if previous else [])
        result.append(Stage("evaluate", _dump(evaluate_config), upstream,
                            run=lambda _: stages.evaluate(evaluate_config, work, echo=echo)))  # fmt: skip
    if "export" in built:
        merge_config = built["export"]
        result.append(Stage("export", _dump(merge_config), [previous],
                            run=lambda _: {"merged": str(stages.export(merge_config, echo=echo))}))  # fmt: skip
    return result


def plan(
    stage_list: list[Stage], work: Path, *, start: str | None = None, until: str | None = None
) -> list[Stage]:
    """Decide for each stage: run (and why) or skip. `start` forces a stage and what follows."""
    names = [s.name for s in stage_list]
    for flag, value in (("--from", start), ("--until", until)):
        if value is not None and value not in names:
            raise ConfigError(f"{flag} {value}: no such stage in this config (stages: {', '.join(names)})")
    current_versions = versions()
    fingerprints: dict[str, str] = {}
    reruns: set[str] = set()
    forced = False
    stopped = False
    for stage in stage_list:
        payload = {"stage": stage.name, "config": stage.config, "inputs": stage.extra_inputs,
                   "upstream": [fingerprints[u] for u in stage.upstream], "versions": current_versions}  # fmt: skip
        stage.fingerprint = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        fingerprints[stage.name] = stage.fingerprint
        forced = forced or stage.name == start
        finished = stages.read_json(work / stage.name / "stage.json")
        if stopped:
            stage.action, stage.reason = "stop", f"after --until {until}"
        elif forced:
            stage.action, stage.reason = "run", f"--from {start}"
        elif finished is None:
            started = stages.read_json(work / stage.name / "started.json")
            resumable = started is not None and started["fingerprint"] == stage.fingerprint
            stage.action, stage.reason = (
                "run",
                ("resume an interrupted run" if resumable else "no finished run"),
            )
        elif finished["fingerprint"] == stage.fingerprint:
            stage.action, stage.reason = "skip", "unchanged"
        else:
            stage.action, stage.reason = "run", _why(stage, finished, reruns, current_versions)
        if stage.action == "run":
            reruns.add(stage.name)
        stopped = stopped or stage.name == until
    return stage_list


def _why(stage: Stage, finished: dict, reruns: set[str], current_versions: dict) -> str:
    changed = sorted(k for k in set(stage.config) | set(finished["config"])
                     if stage.config.get(k) != finished["config"].get(k))  # fmt: skip
    if changed:
        return "changed: " + ", ".join(changed)
    if stage.extra_inputs != finished.get("inputs"):
        return "input files changed"
    upstream = [u for u in stage.upstream if u in reruns]
    if upstream:
        return "upstream reruns: " + ", ".join(upstream)
    if finished.get("versions") != current_versions:
        return "package versions changed"
    return "fingerprint changed"


def run_stages(stage_list: list[Stage], work: Path, *, echo=print) -> dict:
    summaries = {}
    for stage in stage_list:
        folder = work / stage.name
        if stage.action == "stop":
            continue
        if stage.action == "skip":
            summaries[stage.name] = stages.read_json(folder / "stage.json")["summary"]
            echo(f"[{stage.name}] skipped: unchanged")
            continue
        _prepare_folder(stage, folder)
        echo(f"[{stage.name}] running: {stage.reason}")
        _write(folder / "started.json", {"fingerprint": stage.fingerprint, "config": stage.config})
        started = time.perf_counter()
        summary = stage.run(work)
        record = {"fingerprint": stage.fingerprint, "config": stage.config, "inputs": stage.extra_inputs,
                  "versions": versions(), "summary": summary, "seconds": round(time.perf_counter() - started, 1),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}  # fmt: skip
        _write(folder / "stage.json", record)
        summaries[stage.name] = summary
    return summaries


def _prepare_folder(stage: Stage, folder: Path) -> None:
    """Keep a folder for resuming only when it was started with the same fingerprint; otherwise
    start clean (old checkpoints must not leak into a changed run). The translate store survives
    upstream changes: its translations stay valid for the same translator."""
    started = stages.read_json(folder / "started.json")
    if started is not None and started["fingerprint"] == stage.fingerprint:
        return
    (folder / "stage.json").unlink(missing_ok=True)
    if stage.keep_on_upstream_change and started is not None and started["config"] == stage.config:
        return
    if folder.exists():
        shutil.rmtree(folder)


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str))
    temporary.replace(path)
