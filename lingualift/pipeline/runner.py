"""Plan and run the pipeline's steps: one folder per step, each with a fingerprint of its config, its
upstream stages' fingerprints and the package versions. An unchanged finished stage is skipped; a
changed one reruns with everything downstream. A stage killed half-way resumes inside itself
(translate store, training checkpoints) when the same command runs again."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

from lingualift.errors import ConfigError
from lingualift.stage import Step
from lingualift.versions import versions


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


def plan(steps: list[Step], work: Path, *, start: str | None = None, until: str | None = None) -> list[Step]:
    """Decide for each step: run (and why), skip, or stop. `start` forces a step and what follows."""
    names = [step.name for step in steps]
    for flag, value in (("--from", start), ("--until", until)):
        if value is not None and value not in names:
            raise ConfigError(f"{flag} {value}: no such stage in this config (stages: {', '.join(names)})")
    current_versions = versions()
    fingerprints: dict[str, str] = {}
    reruns: set[str] = set()
    forced = stopped = False
    for step in steps:
        payload = {
            "stage": step.name,
            "config": step.recorded_config,
            "inputs": step.inputs,
            "upstream": [fingerprints[u] for u in step.upstream],
            "versions": current_versions,
        }
        step.fingerprint = hashlib.sha256(
            json.dumps(payload, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        fingerprints[step.name] = step.fingerprint
        forced = forced or step.name == start
        finished = read_json(work / step.name / "stage.json")
        if stopped:
            step.action, step.reason = "stop", f"after --until {until}"
        elif forced:
            step.action, step.reason = "run", f"--from {start}"
        elif finished is None:
            started = read_json(work / step.name / "started.json")
            resumable = started is not None and started["fingerprint"] == step.fingerprint
            step.action, step.reason = "run", "resume an interrupted run" if resumable else "no finished run"
        elif finished["fingerprint"] == step.fingerprint:
            step.action, step.reason = "skip", "unchanged"
        else:
            step.action, step.reason = "run", _why(step, finished, reruns, current_versions)
        if step.action == "run":
            reruns.add(step.name)
        stopped = stopped or step.name == until
    return steps


def _why(step: Step, finished: dict, reruns: set[str], current_versions: dict) -> str:
    config, before = step.recorded_config, finished["config"]
    changed = sorted(k for k in set(config) | set(before) if config.get(k) != before.get(k))
    if changed:
        return "changed: " + ", ".join(changed)
    if step.inputs != finished.get("inputs"):
        return "input files changed"
    upstream = [u for u in step.upstream if u in reruns]
    if upstream:
        return "upstream reruns: " + ", ".join(upstream)
    if finished.get("versions") != current_versions:
        return "package versions changed"
    return "fingerprint changed"


def run_steps(steps: list[Step], work: Path, *, echo=print) -> dict:
    """Run the planned steps; each step's summary by name (a skipped one's from its stage.json)."""
    summaries = {}
    for step in steps:
        folder = work / step.name
        if step.action == "stop":
            continue
        if step.action == "skip":
            summaries[step.name] = read_json(folder / "stage.json")["summary"]
            echo(f"[{step.name}] skipped: unchanged")
            continue
        _prepare_folder(step, folder)
        echo(f"[{step.name}] running: {step.reason}")
        _write(folder / "started.json", {"fingerprint": step.fingerprint, "config": step.recorded_config})
        started = time.perf_counter()
        summary = step.run(work, echo)
        record = {
            "fingerprint": step.fingerprint,
            "config": step.recorded_config,
            "inputs": step.inputs,
            "versions": versions(),
            "summary": summary,
            "seconds": round(time.perf_counter() - started, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        _write(folder / "stage.json", record)
        summaries[step.name] = summary
    return summaries


def _prepare_folder(step: Step, folder: Path) -> None:
    """Keep a folder for resuming only when it was started with the same fingerprint; otherwise
    start clean (old checkpoints must not leak into a changed run). The translate store survives
    upstream changes: its translations stay valid for the same translator."""
    started = read_json(folder / "started.json")
    if started is not None and started["fingerprint"] == step.fingerprint:
        return
    (folder / "stage.json").unlink(missing_ok=True)
    kept = started is not None and step.comparable(started["config"]) == step.comparable(step.recorded_config)
    if step.keep_on_upstream_change and kept:
        return
    if folder.exists():
        shutil.rmtree(folder)


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def read_summary(work: Path, step: str) -> dict:
    """A finished step's summary, e.g. whether the source step found oasst trees."""
    return read_json(work / step / "stage.json")["summary"]


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, default=str))
    temporary.replace(path)
