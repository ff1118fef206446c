"""`lingualift bench-mt`: MT backends scored on reference translations."""

from __future__ import annotations

import typer

from lingualift.evaluate.mt import METRICS, BenchConfig, BenchReport
from lingualift.sections import Section, png, short
from lingualift.stage import Stage


def command(config: BenchConfig) -> None:
    """Benchmark MT backends on reference translations: BLEU, chrF, chrF++ (sacrebleu, with
    signatures), segments/s, tokens/s and peak memory; a table, JSON and a bar chart PNG."""
    from lingualift.evaluate.mt import run_bench

    run_bench(config, echo=typer.echo)


def section(report: BenchReport, where: str) -> Section:
    data = report.results
    rows = [
        (
            r.translator,
            ", ".join(f"{m} {r.metric(m).score}" for m in METRICS)
            + f"; {r.segments_per_second} seg/s, peak {r.peak_memory_mb} MB",
        )
        for r in data
    ]
    signatures = sorted({r.metric(m).signature for r in data for m in METRICS})
    by = f"bench-mt on {data[0].segments if data else 0} segments; sacrebleu signatures: " + " | ".join(
        signatures
    )

    def draw(fig, ax):
        width = 0.8 / len(METRICS)
        for i, metric in enumerate(METRICS):
            ax.bar(
                [j + i * width for j in range(len(data))],
                [r.metric(metric).score for r in data],
                width,
                label=metric,
            )
        ax.set_xticks(
            [j + width for j in range(len(data))], [short(r.translator)[-30:] for r in data], fontsize=7
        )
        ax.set_ylabel("score")
        ax.legend(fontsize=8)
        ax.set_title("MT benchmark", fontsize=9)

    return Section("MT benchmark", where, by, rows, png(draw) if data else None)


STAGE = Stage(
    "bench_mt",
    BenchConfig,
    command=command,
    command_name="bench-mt",
    flags={"data": "--data", "to": "--to", "source_lang": "--from", "ct2": "--ct2"},
    report="bench_mt.json",
    report_type=BenchReport,
    section=section,
)
