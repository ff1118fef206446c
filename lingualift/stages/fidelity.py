"""`lingualift eval fidelity` and the pipeline's evaluate step: are the replies in the language,
before (the base model) and after (the tuned one), on the held-out conversations."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import BaseModel, ConfigDict, Field

from lingualift.evaluate.config import CONFIDENCE, MIN_CHARS_DENSE, MIN_WORDS, FidelityConfig
from lingualift.evaluate.fidelity import FidelityReport, FidelityResult
from lingualift.sections import Section, fmt, png, short
from lingualift.stage import Pipeline, Stage, Step


def command(config: FidelityConfig) -> None:
    from lingualift.evaluate.fidelity import run_fidelity

    run_fidelity(config, echo=typer.echo)


command.__doc__ = f"""Does the model answer in the language, with replies that are usable? Usable, in-language and
    not-degenerate rates with bootstrap 95% intervals; --baseline measures a second model side by side.

    Each reply is split into lines; lines under {MIN_WORDS} words (under {MIN_CHARS_DENSE} characters for scripts written
    without spaces) are skipped; the rest are identified with fastText lid.176, a label counting above
    {CONFIDENCE} confidence. A reply is in the language when no line is in another one, and usable when it is
    also not degenerate (empty, looping, mostly a copy of the prompt, or cut off with nothing to check).
    """


def section(report: FidelityReport, where: str) -> Section:
    results = report.models
    first = next(iter(results.values()), FidelityResult())
    settings = first.settings
    lang = settings.get("lang", "?")
    by = (
        f"eval fidelity, language {lang}, prompts {settings.get('prompts', '?')} (limit {settings.get('limit')}), "
        f"max {settings.get('max_new_tokens', '?')} new tokens, greedy; {first.method or ''}"
    )
    rows = [
        (short(n), f"{fidelity_line(r)}; leaked {fmt(r.leaked_languages or 'none')}")
        for n, r in results.items()
    ]
    failures = [(n, f, ", ".join(f["leaked"])) for n, r in results.items() for f in r.failure_examples[:3]]
    failures += [
        (n, d, d["reason"].replace("_", " ")) for n, r in results.items() for d in r.degenerate_examples
    ]
    items = "".join(
        f"<li><b>{html.escape(short(n))}</b> ({html.escape(why)}): {html.escape(f['prompt'][:120])} → "
        f"<i>{html.escape(f['reply'][:200])}</i></li>"
        for n, f, why in failures
    )
    extra = (
        f"<details><summary>examples: other languages and degenerate replies</summary><ul>{items}</ul></details>"
        if failures
        else ""
    )
    return Section(
        "Replies in the language: usable, before and after",
        where,
        by,
        rows,
        fidelity_figure(results, title=f"Language fidelity ({lang})"),
        extra,
    )


# (rate key, interval key, label): usable leads; reports written before it had in-language only
FIDELITY_RATES = (
    ("usable_rate", "usable_ci95", "usable (in the language, not degenerate)"),
    ("pass_rate", "ci95", "in the language"),
)


def fidelity_figure(results: dict[str, FidelityResult], *, title: str) -> bytes:
    names = list(results)
    shown = [r for r in FIDELITY_RATES if all(getattr(results[n], r[0]) is not None for n in names)]

    def draw(fig, ax):
        height = 0.8 / len(shown)
        for k, ((rate, ci, label), color) in enumerate(zip(shown, ("#4c72b0", "#bbbbbb"))):
            rates = [getattr(results[n], rate) * 100 for n in names]
            low = [r - getattr(results[n], ci)[0] * 100 for r, n in zip(rates, names)]
            high = [getattr(results[n], ci)[1] * 100 - r for r, n in zip(rates, names)]
            ax.barh(
                [i + k * height for i in range(len(names))],
                rates,
                height=height,
                xerr=[low, high],
                color=color,
                capsize=3,
                label=label,
            )
        ax.set_yticks(
            [i + height * (len(shown) - 1) / 2 for i in range(len(names))],
            [short(n) for n in names],
            fontsize=8,
        )
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of replies, 95% CI")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(title, fontsize=9)

    return png(draw, size=(6.4, 1.6 + 0.7 * len(names)))


def fidelity_line(r: FidelityResult) -> str:
    """The fidelity command's own line (usable first); reports written before usable was measured
    have the in-language rate only."""
    if r.usable_rate is not None:
        from lingualift.evaluate.fidelity import headline

        return headline(r)
    return (
        f"in the language {r.pass_rate:.1%} (95% CI {r.ci95[0]:.1%}–{r.ci95[1]:.1%}) of {r.replies} replies"
    )


class EvaluateSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holdout: int = Field(12, ge=0, description="Conversations held out of training as fidelity prompts")
    fidelity: Optional[dict[str, Any]] = Field(
        default_factory=dict, description="Fidelity before (base) and after (tuned) on the held-out prompts"
    )
    benchmark: Optional[dict[str, Any]] = Field(
        None,
        description="A multiple-choice benchmark translated into the language and scored, tuned beside base "
        "and the original (`lingualift eval benchmark`): `source` (e.g. truthfulqa/truthful_qa:multiple_choice), "
        "`split`, `limit`, `source_lang` (en), `translate` (its translator options)",
    )


FIELDS = {"evaluate": (EvaluateSection, Field(default_factory=EvaluateSection))}


def plan(config, plan) -> None:
    """The last trained model against the base, each language on its own held-out prompts, with the
    system prompt training used."""
    if config.evaluate.fidelity is None:
        return
    from lingualift.conversations.threads import SYSTEM_PROMPT

    section = dict(config.evaluate.fidelity)
    if "system" not in section and not config.threads.get("no_system_prompt"):  # as in training
        section["system"] = config.threads.get("system_prompt") or SYSTEM_PROMPT
    threads, trained = plan.of("threads"), plan.of("train")[-1:]
    links = {
        "model": plan.model,
        "baseline": config.model if trained else None,
        "lang": ",".join(plan.tags),
        "prompts": ",".join(str(plan.work / t.name / "heldout") for t in threads),
        "out": str(plan.work / "evaluate"),
    }
    built = plan.build("evaluate.fidelity", FidelityConfig, section, links)
    if built is not None:
        upstream = tuple(t.name for t in threads) + tuple(s.name for s in trained)
        plan.steps.append(Step("evaluate", STAGE, built, upstream=upstream))


def run(step: Step, work: Path, echo) -> dict:
    from lingualift.evaluate.fidelity import HEADLINE, run_fidelity

    report = run_fidelity(step.config, echo=echo)
    return report.model_dump(mode="json", by_alias=True, include={"models": {"__all__": set(HEADLINE)}})


def figure(summary: FidelityReport) -> str:
    return "; ".join(
        f"{Path(name.split('+')[-1]).name or name}: usable {r.usable_rate:.0%} "
        f"({r.usable_ci95[0]:.0%}–{r.usable_ci95[1]:.0%})"
        for name, r in summary.models.items()
        if r.usable_rate is not None
    )


STAGE = Stage(
    "fidelity",
    FidelityConfig,
    command=command,
    command_name="eval fidelity",
    report="fidelity.json",
    report_type=FidelityReport,
    section=section,
    pipeline=Pipeline(FIELDS, plan, run, figure),
)
