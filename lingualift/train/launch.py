"""`lingualift train --accelerate-config NAME`: start the same training under `accelerate launch`.

The validated config is written to OUT/launch_config.json and every process runs
`python -m lingualift.train.worker OUT/launch_config.json`, so the processes train exactly what
the command line asked for.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from lingualift.train.report import TrainingReport

from lingualift.errors import ConfigError, LinguaLiftError
from lingualift.train.config import TrainConfig

CONFIG_DIR = Path(__file__).parent / "accelerate_configs"


def shipped_configs() -> dict[str, Path]:
    return {path.stem: path for path in sorted(CONFIG_DIR.glob("*.yaml"))}


def config_path(name: str) -> Path:
    shipped = shipped_configs()
    if name in shipped:
        return shipped[name]
    if Path(name).is_file():
        return Path(name)
    raise ConfigError(
        f"--accelerate-config {name}: neither a shipped config ({', '.join(shipped)}) nor a YAML file"
    )


def launch_command(config: TrainConfig, stored: Path, machine=None) -> list[str]:
    """`accelerate launch` with the config file, refusing what cannot run before anything starts. Mixed
    precision comes from the precision policy for this machine's GPUs (fp16 on a T4/V100 node,
    where the shipped configs' bf16 would only be emulated), not from the file."""
    from lingualift.hardware import Machine, launch_kind, training_precision, unsupported_combination

    path = config_path(config.accelerate_config)
    settings = yaml.safe_load(path.read_text()) or {}
    kind = settings.get("distributed_type")
    if kind == "DEEPSPEED" and importlib.util.find_spec("deepspeed") is None:
        raise ConfigError(
            f"--accelerate-config {config.accelerate_config} uses DeepSpeed: pip install deepspeed"
        )
    refusal = unsupported_combination(launch_kind(settings), quant4=config.quant4, quant8=config.quant8)
    if refusal:
        raise ConfigError(f"--accelerate-config {config.accelerate_config}: {refusal}")
    machine = machine or Machine.here()
    on_cpu = bool(settings.get("use_cpu"))
    if kind in ("MULTI_GPU", "FSDP", "DEEPSPEED") and not on_cpu and not machine.cuda:
        raise ConfigError(
            f"--accelerate-config {config.accelerate_config} needs CUDA GPUs; on CPU use cpu-ddp"
        )
    from lingualift.models import family_bf16_only

    precision = training_precision(
        machine, "cpu" if on_cpu else "cuda", bf16_only=family_bf16_only(config.model)
    )
    command = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(path),
        "--mixed_precision",
        precision,
    ]
    if config.num_processes:
        command += ["--num_processes", str(config.num_processes)]
    return command + ["-m", "lingualift.train.worker", str(stored)]


def launch(config: TrainConfig, *, echo=print) -> TrainingReport:
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    stored = out / "launch_config.json"
    command = launch_command(config, stored)
    stored.write_text(
        config.model_copy(update={"accelerate_config": None, "num_processes": None}).model_dump_json(indent=2)
    )
    echo("launching: " + " ".join(command))
    finished = subprocess.run(command)
    if finished.returncode != 0:
        raise LinguaLiftError(f"accelerate launch exited with {finished.returncode}: see the output above")
    from lingualift.train.report import TrainingReport

    return TrainingReport.load(out / "training_report.json")
