"""`lingualift eval regression`: what tuning cost the source language."""

from __future__ import annotations

import typer

from lingualift.evaluate.regression import RegressionConfig, RegressionReport
from lingualift.sections import Section, pick
from lingualift.stage import Stage
from lingualift.stages.fidelity import fidelity_line


def command(config: RegressionConfig) -> None:
    """Did tuning cost the source language? Held-out loss on source-language conversations (tuned minus
    baseline, paired per conversation, bootstrap 95% interval; perplexities) and source-language
    fidelity of both models. An interval above zero is reported as a regression."""
    from lingualift.evaluate.regression import run_regression

    run_regression(config, echo=typer.echo)


def section(report: RegressionReport, where: str) -> Section:
    by = (
        f"eval regression: {report.model} vs {report.baseline} on {report.data} "
        f"({report.lang}), assistant-turn loss per conversation, paired, bootstrap 95% CI; "
        f"up to {report.max_seq_length} tokens"
    )
    low, high = report.loss_difference_ci95
    rows = [
        (
            "loss difference (tuned − baseline)",
            f"{report.loss_difference:+.4f} (95% CI {low:+.4f} to {high:+.4f})"
            + (" — regressed" if report.regressed else ""),
        )
    ] + pick(
        report, ("conversations", "tuned_loss", "baseline_loss", "tuned_perplexity", "baseline_perplexity")
    )
    for role, f in report.fidelity.items():
        rows.append((f"{role} replies in {report.lang}", fidelity_line(f)))
    return Section("Source-language regression", where, by, rows)


STAGE = Stage(
    "regression",
    RegressionConfig,
    command=command,
    command_name="eval regression",
    report="regression.json",
    report_type=RegressionReport,
    section=section,
)
