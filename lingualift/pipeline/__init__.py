"""`lingualift run`: the whole pipeline from one YAML config (or the offline demo without one)."""

from __future__ import annotations

from pathlib import Path

from lingualift.pipeline.config import PipelineConfig, language_codes, load_config, plan_steps

__all__ = ["PipelineConfig", "load_config", "plan_steps", "run_pipeline"]


def run_pipeline(
    config: PipelineConfig,
    *,
    start: str | None = None,
    until: str | None = None,
    dry_run: bool = False,
    echo=print,
) -> dict:
    """Plan (every config problem is reported before anything loads), then run what changed."""
    import time

    from lingualift.pipeline.report import DEMO_NOTE, summary_table, write_report
    from lingualift.pipeline.runner import plan, run_steps

    began = time.perf_counter()
    work = Path(config.work_dir)
    steps = plan(plan_steps(config), work, start=start, until=until)
    width = max(len(s.name) for s in steps)
    echo("plan:")
    for stage in steps:
        echo(f"  {stage.name:<{width}}  {stage.action:<4}  {stage.reason}")
    if dry_run:
        return {"plan": {s.name: {"action": s.action, "reason": s.reason} for s in steps}}
    summaries = run_steps(steps, work, echo=echo)
    report = write_report(
        work,
        steps,
        language=", ".join(language_codes(config)),
        note=DEMO_NOTE if config.model == "demo" else None,
    )
    seconds = round(time.perf_counter() - began, 1)
    echo("summary:")
    for line in summary_table(work, steps, summaries):
        echo(line)
    echo(f"done in {seconds} s — report: {report}")
    return {
        "stages": summaries,
        "report": str(report),
        "seconds": seconds,
        "plan": {s.name: {"action": s.action, "reason": s.reason} for s in steps},
    }
