"""`lingualift translate` and the pipeline's translate steps (one per target language)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import typer
from pydantic import Field

from lingualift.sections import Section, pick, png
from lingualift.stage import Pipeline, Stage, Step
from lingualift.stages.arguments import SOURCE_ARGUMENT
from lingualift.translate.config import TranslateConfig
from lingualift.translate.report import TranslateReport

# the run's summary keeps these of translate_report.json
SUMMARY = (
    "rows",
    "rows_by_outcome",
    "rows_by_flag",
    "unique_segments",
    "translated_segments",
    "reused_from_store",
    "flagged",
    "failed_segments",
    "rows_per_second",
)


def command(
    config: TranslateConfig,
    source: Annotated[str, SOURCE_ARGUMENT],
    out: Annotated[str, typer.Option("--out", "-o", help="Output directory (save_to_disk DatasetDict).")],
) -> None:
    """Translate a dataset into another language, exactly once per unique segment: a text column,
    or chat/instruction/preference data (alpaca, dolly, messages, sharegpt, prompt/chosen/rejected)
    turn by turn, --roles picking which turns.

    Messages are split into sentences (code blocks, inline code, URLs and markup are kept),
    identical segments are translated once, sorted by length and batched by a token budget; each
    batch is committed to a SQLite store, so re-running the same command resumes after a kill.
    The output keeps the input's splits and columns, with the text translated, the language
    field set to the target, plus source_text, translator and qe_flags (quality flags:
    repetition, length_ratio, wrong_language, echo, lost_placeholder, commentary, repetition_trimmed,
    truncated_input, truncated_output, failed).
    """
    from lingualift.translate.engine import translate_dataset

    report = translate_dataset(config, echo=typer.echo)
    if report.rows is not None:  # rank 0, which assembled the dataset
        typer.echo(
            f"{report.rows} rows → {out}: {report.rows_by_outcome}; "
            f"{report.translated_segments} segments translated, {report.reused_from_store} reused, "
            f"{report.failed_segments} failed ({report.rows_per_second} rows/s)"
        )


def section(report: TranslateReport, where: str) -> Section:
    outcomes, flags = report.rows_by_outcome, report.rows_by_flag

    def draw(fig, ax):
        labels = [f"rows: {k}" for k in outcomes] + [f"flag: {k}" for k in flags]
        values = list(outcomes.values()) + list(flags.values())
        colors = ["#4c72b0"] * len(outcomes) + ["#dd8452"] * len(flags)
        ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("rows")
        ax.set_title(f"Translation outcomes and QE flags ({report.backend} → {report.target})", fontsize=9)

    by = (
        f"translate: backend {report.backend}, model {report.model}, target {report.target}, "
        f"source {report.source}, {report.world_size} process(es)"
    )
    return Section(
        "Translation",
        where,
        by,
        pick(
            report,
            (
                "rows",
                "unique_segments",
                "reused_from_store",
                "translated_segments",
                "failed_segments",
                "rows_per_second",
                "segments_per_second",
                "tokens_per_second",
                "seconds",
            ),
        ),
        png(draw) if outcomes or flags else None,
    )


FIELDS = {
    "translate": (
        Union[dict[str, Any], Literal[False]],
        Field(
            default_factory=dict,
            description="`lingualift translate` options; false: the source is already in the language "
            "(native prompts for respond, or conversations)",
        ),
    )
}


def plan(config, plan) -> None:
    """One step per target language. The demo model translates its own data (backend llm)."""
    if config.translate is False:
        return
    section = dict(config.translate)
    if getattr(config, "respond", None) is not None:  # a teacher writes the answers: prompts only
        section.setdefault("roles", ["user", "system"])
    section.setdefault("backend", "llm" if config.model == "demo" else None)
    if section["backend"] == "llm":
        section.setdefault("model", config.model)  # the model being taught translates its own data
    source = plan.of("source")[0]
    for tag in plan.tags:
        name = f"translate{plan.suffix(tag)}"
        links = {
            "source": str(plan.work / source.name / "data"),
            "to": tag,
            "out": str(plan.work / name / "data"),
            "text_field": config.text_field,
            "source_lang": config.source_lang,
            "work_dir": str(plan.work / name / "store"),
        }
        built = plan.build("translate", TranslateConfig, section, links)
        if built is not None:
            plan.steps.append(Step(name, STAGE, built, upstream=(source.name,), keep_on_upstream_change=True))


def run(step: Step, work: Path, echo) -> dict:
    """For oasst trees, only the messages on best-ranked threads are translated (LLaMa2lang
    translates every message, though training uses a fraction)."""
    from lingualift.conversations.threads import ThreadsConfig, write_threads
    from lingualift.pipeline.runner import read_summary
    from lingualift.translate.engine import translate_dataset

    folder, config = work / step.name, step.config
    if read_summary(work, step.upstream[0])["oasst"]:
        english = write_threads(
            ThreadsConfig(source=config.source, out=str(folder / "source-threads"), no_system_prompt=True)
        )
        used = sum(s["thread_message_ids"] for s in english.splits.values())
        total = sum(s["messages"] for s in english.splits.values())
        echo(f"threads: {used} of {total} messages are on best-ranked threads; only those are translated")
        config = config.model_copy(
            update={"only_ids": str(folder / "source-threads" / "thread_message_ids.json")}
        )
    report = translate_dataset(config, echo=echo)
    echo(
        f"translate: {report.rows_by_outcome} ({report.translated_segments} segments translated, "
        f"{report.reused_from_store} reused) → {config.out}"
    )
    return report.summary(SUMMARY)


def figure(summary: TranslateReport) -> str:
    outcomes = summary.rows_by_outcome
    return ", ".join(f"{n} {outcome.replace('_', ' ')}" for outcome, n in outcomes.items()) + " rows"


STAGE = Stage(
    "translate",
    TranslateConfig,
    command=command,
    flags={"source_lang": "--from", "quant4": "--quant4", "quant8": "--quant8", "ct2": "--ct2"},
    report="translate_report.json",
    report_type=TranslateReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
