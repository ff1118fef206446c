"""`lingualift eval judge`: pairwise LLM-as-judge win rate against a baseline."""

from __future__ import annotations

import typer

from lingualift.evaluate.judge import JudgeConfig, JudgeReport
from lingualift.sections import Section, pick, png, short
from lingualift.stage import Stage


def command(config: JudgeConfig) -> None:
    """Pairwise LLM-as-judge: the model's and the baseline's answers to the same prompts, judged by a
    model behind an OpenAI-compatible endpoint (vLLM, llama.cpp server, a hosted API) in both orders
    so position bias cancels; the rubric requires answers in the target language. Win/tie/loss rates
    with bootstrap 95% intervals; unparsable verdicts and failed requests are counted."""
    from lingualift.evaluate.judge import run_judge

    run_judge(config, echo=typer.echo)


def section(report: JudgeReport, where: str) -> Section:
    by = (
        f"eval judge: {report.model} vs {report.baseline}, judge {report.judge}, language "
        f"{report.lang}, prompts {report.prompts_source}; {report.method}"
    )
    names = ("win", "tie", "loss")

    def draw(fig, ax):
        rates = [report.rate(n)[0] * 100 for n in names]
        errors = [
            [r - report.rate(n)[1][0] * 100 for r, n in zip(rates, names)],
            [report.rate(n)[1][1] * 100 - r for r, n in zip(rates, names)],
        ]
        ax.bar(names, rates, yerr=errors, capsize=4, color=["#55a868", "#999999", "#c44e52"])
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of judged prompts, 95% CI")
        ax.set_title(f"{short(str(report.model))} vs {short(str(report.baseline))}", fontsize=9)

    rows = [
        (f"{n} rate", f"{rate:.1%} (95% CI {ci[0]:.1%}–{ci[1]:.1%})")
        for n in names
        for rate, ci in [report.rate(n)]
    ] + pick(
        report,
        (
            "prompts",
            "judged",
            "one_order_only",
            "no_verdict",
            "unparsed_verdicts",
            "failed_requests",
            "order_agreement",
        ),
    )
    return Section("LLM judge: win rate", where, by, rows, png(draw, size=(5, 3)))


STAGE = Stage(
    "judge",
    JudgeConfig,
    command=command,
    command_name="eval judge",
    report="judge.json",
    report_type=JudgeReport,
    section=section,
)
