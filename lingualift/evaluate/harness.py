"""`lingualift eval harness`: lm-evaluation-harness tasks on the model (+ adapter), scores collected into
harness.json for `lingualift report`. Optional: pip install 'lingualift[harness]'."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import ConfigDict, Field

from lingualift.errors import ConfigError, ModelError
from lingualift.models import ModelPlacement
from lingualift.reports import StageReport


class HarnessConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Model: hub id, local directory, `demo`, or a LoRA adapter directory")
    tasks: str = Field(
        description="Comma-separated lm-eval task names (e.g. belebele_nld_Latn,xcopa_it,"
        "mgsm_direct_es,global_mmlu_full_nl), or your own tasks with --include-path"
    )
    adapter: Optional[str] = Field(None, description="LoRA adapter on top of --model")
    include_path: Optional[str] = Field(
        None, description="Folder of your own task YAML files (local data files)"
    )
    num_fewshot: Optional[int] = Field(None, ge=0, description="Few-shot examples (default: each task's own)")
    limit: Optional[int] = Field(
        None, gt=0, description="Only the first N documents per task (a quick look, not a comparable score)"
    )
    batch_size: int = Field(8, gt=0, description="Requests per forward pass")
    dtype: Optional[Literal["float32", "bfloat16", "float16"]] = Field(
        None,
        description="Weights dtype (default: float32 on CPU, bfloat16 on a GPU that has it, else float16)",
    )
    out: Optional[str] = Field(None, description="Write harness.json here")


class HarnessReport(StageReport):
    """harness.json: lm-evaluation-harness scores and standard errors per task and metric."""

    model: Optional[str] = None
    model_args: dict[str, Any] = Field(default_factory=dict)
    tasks: list[str] = Field(default_factory=list)
    num_fewshot: Optional[int] = None
    limit: Optional[float] = None
    scores: dict[str, dict[str, float]] = Field(default_factory=dict)  # task -> metric -> score
    stderr: dict[str, dict[str, Any]] = Field(default_factory=dict)
    documents: dict[str, Optional[int]] = Field(default_factory=dict)
    n_shot: Optional[dict[str, Any]] = None
    harness_version: Optional[str] = None
    task_versions: Optional[dict[str, Any]] = None


def run_harness(config: HarnessConfig, *, echo=print) -> HarnessReport:
    import importlib.util

    from lingualift.models import adapter_base, default_device, resolve_model

    quantization = config.quantization()  # refused before lm-eval and the model load
    if importlib.util.find_spec("lm_eval") is None:
        raise ModelError("lm-evaluation-harness is not installed: pip install 'lingualift[harness]'")
    import lm_eval
    from lm_eval.tasks import TaskManager

    tasks = [t.strip() for t in config.tasks.split(",") if t.strip()]
    if not tasks:
        raise ConfigError("--tasks: name at least one lm-eval task")
    manager = TaskManager(include_path=config.include_path) if config.include_path else TaskManager()
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        raise ConfigError(
            f"--tasks: unknown lm-eval task(s) {', '.join(unknown)}; `lm-eval ls tasks` lists them"
            + ("" if config.include_path else ", or pass your own YAML with --include-path")
        )
    adapter = config.adapter or (config.model if adapter_base(config.model) else None)
    base = resolve_model(config.model if config.adapter or not adapter else adapter_base(adapter))
    from lingualift import hardware
    from lingualift.models import load_chat_model

    device = default_device(config.device)
    dtype = config.dtype or hardware.inference_dtype(hardware.Machine.here(), device)
    model_args = {
        "pretrained": base,
        "dtype": dtype,
        **({"peft": adapter} if adapter else {}),
        **({"quantization": "4bit" if config.quant4 else "8bit"} if quantization is not None else {}),
    }
    echo(
        f"lm-eval {lm_eval.__version__}: {', '.join(tasks)} on {base}" + (f" + {adapter}" if adapter else "")
    )
    # loaded here, as every other command loads it (adapter, quantization, placement), and handed to
    # lm-eval as a model: its `model_args` path passes a quantization_config to from_pretrained twice
    model, tokenizer = load_chat_model(
        base,
        device=device,
        quantization=quantization,
        adapter=adapter,
        dtype=dtype,
        needs_template=False,
        chat_template=config.chat_template,
    )
    from lm_eval.models.huggingface import HFLM

    results = lm_eval.simple_evaluate(
        model=HFLM(pretrained=model, tokenizer=tokenizer, batch_size=config.batch_size),
        tasks=tasks,
        task_manager=manager,
        num_fewshot=config.num_fewshot,
        limit=config.limit,
    )
    scores, stderr = {}, {}
    for task, values in results["results"].items():
        metrics = {k.split(",")[0]: v for k, v in values.items() if "," in k and isinstance(v, (int, float))}
        scores[task] = {k: v for k, v in metrics.items() if not k.endswith("_stderr")}
        stderr[task] = {k.removesuffix("_stderr"): v for k, v in metrics.items() if k.endswith("_stderr")}
    summary = HarnessReport(
        model=f"{config.model}+{adapter}" if config.adapter else config.model,
        model_args={
            k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
            for k, v in model_args.items()
        },
        tasks=tasks,
        num_fewshot=config.num_fewshot,
        limit=config.limit,
        scores=scores,
        stderr=stderr,
        documents={t: n.get("effective") for t, n in results.get("n-samples", {}).items()},
        n_shot=results.get("n-shot"),
        harness_version=lm_eval.__version__,
        task_versions=results.get("versions"),
    )
    for task, values in scores.items():
        echo(
            f"  {task}: "
            + ", ".join(f"{k} {v:.4f} (± {stderr[task].get(k, float('nan')):.4f})" for k, v in values.items())
        )
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        summary.write(Path(config.out) / "harness.json")
    return summary
