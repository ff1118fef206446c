"""`lingualift report RUN_DIR`: one self-contained HTML page (PNG plots embedded) from what the stages
left in a run directory: translation counts and QE flags, training loss curves, fidelity before/after,
LLM-judge win rates, MT benchmark scores, harness scores. Each figure says what produced it.

Sections are found by file name anywhere under RUN_DIR, so a pipeline work directory and a folder of
hand-run commands' outputs both work. A Markdown twin and the PNG files are written beside the page.
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

ORDER = ("check.json", "generate_report.json", "translate_report.json", "review_report.json", "threads_report.json",
         "lingualift_tokenizer.json", "training_report.json", "fidelity.json", "judge.json", "regression.json",
         "bench_mt.json", "harness.json")  # fmt: skip
SKIP_PARTS = {"checkpoints", "report"}


@dataclass
class Section:
    title: str
    source: str  # the file the section was built from, relative to the run directory
    produced_by: str  # model, data, settings, versions: how the numbers were made
    rows: list[tuple[str, str]] = field(default_factory=list)  # figure table
    figure: bytes | None = None  # PNG
    extra_html: str = ""
    extra_md: list[str] = field(default_factory=list)


def find_artifacts(run_dir: Path) -> list[Path]:
    found = [p for name in ORDER for p in sorted(run_dir.rglob(name))
             if not SKIP_PARTS & set(p.relative_to(run_dir).parts[:-1]) and not any(
                 part.endswith(".work") for part in p.relative_to(run_dir).parts)
             and not (p.name == "lingualift_tokenizer.json" and (p.parent / "lingualift_merge.json").exists())]  # fmt: skip
    return found


def build_sections(run_dir: Path) -> list[Section]:
    builders = {"check.json": _check, "generate_report.json": _generate, "review_report.json": _review,
                "translate_report.json": _translate, "threads_report.json": _threads,
                "lingualift_tokenizer.json": _vocabulary,
                "training_report.json": _training, "fidelity.json": _fidelity, "judge.json": _judge,
                "regression.json": _regression,
                "bench_mt.json": _bench_mt, "harness.json": _harness}  # fmt: skip
    sections = []
    for path in find_artifacts(run_dir):
        where = str(path.relative_to(run_dir))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as error:
            sections.append(Section(f"Unreadable: {where}", where, f"could not be read: {error}"))
            continue
        sections.append(builders[path.name](data, where))
    return sections


def write_report(run_dir: Path, out_dir: Path | None = None, *, title: str | None = None,
                 leading: list[Section] | None = None) -> Path:  # fmt: skip
    """report.html (self-contained), report.md and the figures as PNG files in `out_dir`."""
    from lingualift.errors import DataError

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DataError(f"{run_dir}: no such run directory")
    out_dir = Path(out_dir) if out_dir else run_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = (leading or []) + build_sections(run_dir)
    if not any(s.rows or s.figure for s in sections):
        raise DataError(f"{run_dir}: nothing to report — no {', '.join(ORDER)} under it")
    title = title or f"lingualift report — {run_dir.name}"
    page = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>",
            "body{font-family:system-ui,sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;color:#222}",
            "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
            "text-align:left;vertical-align:top}figure{margin:.75rem 0}figcaption,.by{font-size:.85rem;color:#555}"
            "img{max-width:100%}", "</style></head><body>", f"<h1>{html.escape(title)}</h1>",
            "<ul>" + "".join(f"<li><a href='#s{i}'>{html.escape(s.title)}</a></li>" for i, s in enumerate(sections))
            + "</ul>"]  # fmt: skip
    markdown = [f"# {title}", ""]
    for i, section in enumerate(sections):
        page.append(f"<section id='s{i}'><h2>{html.escape(section.title)}</h2>")
        page.append(
            f"<p class='by'>from <code>{html.escape(section.source)}</code> — {html.escape(section.produced_by)}</p>"
        )
        markdown += [f"## {section.title}", "", f"_from `{section.source}` — {section.produced_by}_", ""]
        if section.rows:
            page.append("<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                            for k, v in section.rows) + "</table>")  # fmt: skip
            markdown += (
                ["| figure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in section.rows] + [""]
            )
        if section.figure:
            name = f"figure-{i}.png"
            (out_dir / name).write_bytes(section.figure)
            data = base64.b64encode(section.figure).decode("ascii")
            page.append(f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(section.title)}'>"
                        f"<figcaption>{html.escape(section.produced_by)}</figcaption></figure>")  # fmt: skip
            markdown += [f"![{section.title}]({name})", ""]
        page.append(section.extra_html + "</section>")
        markdown += section.extra_md
    page.append(f"<p class='by'>{html.escape(_versions())}</p></body></html>")
    markdown += ["", f"_{_versions()}_", ""]
    (out_dir / "report.html").write_text("\n".join(page), encoding="utf-8")
    (out_dir / "report.md").write_text("\n".join(markdown), encoding="utf-8")
    return out_dir / "report.html"


def _versions() -> str:
    from lingualift import __version__
    from lingualift.versions import REPORT_PACKAGES, versions

    found = versions(REPORT_PACKAGES)
    own = found.pop("lingualift", None) or __version__
    return f"report written by lingualift {own} ({', '.join(f'{k} {v}' for k, v in found.items())})"


def _png(draw, *, size=(6.4, 3.2)) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    draw(fig, ax)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return (
        json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (dict, list)) else str(value)
    )


def _pick(data: dict, keys) -> list[tuple[str, str]]:
    return [(k.replace("_", " "), _fmt(data[k])) for k in keys if data.get(k) is not None]


def _bars(counts: dict, *, title: str, xlabel: str) -> bytes:
    def draw(fig, ax):
        ax.barh(range(len(counts)), list(counts.values()), color="#4c72b0")
        ax.set_yticks(range(len(counts)), list(counts), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title, fontsize=9)

    return _png(draw)


def _check(data: dict, where: str) -> Section:
    tokens, cut = data.get("tokens") or {}, data.get("truncated") or {}
    estimate = data.get("training_estimate") or {}
    rows = [("conversations", _fmt(data.get("conversations"))),
            ("tokens per conversation", _fmt(tokens.get("per_conversation"))),
            (f"cut at {data.get('max_seq_length')} tokens", f"{cut.get('conversations')} ({_fmt(cut.get('share'))})"),
            ("duplicates", _fmt({k: v for k, v in (data.get("duplicates") or {}).items() if k != "near_examples"})),
            ("training tokens", _fmt(estimate.get("training_tokens")))]  # fmt: skip
    if "this_machine" in estimate:
        rows.append(("measured here", _fmt(estimate["this_machine"])))
    if "translation_cost" in data:
        rows.append(("translation cost", _fmt(data["translation_cost"])))
    languages = {k: v["turns"] for k, v in list((data.get("languages") or {}).items())[:12]}
    by = f"check of {data.get('data')} with the tokenizer and chat template of {data.get('model')}; languages by fastText lid.176"
    return Section("Dataset check", where, by, rows,
                   _bars(languages, title="Turns per detected language", xlabel="turns") if languages else None)  # fmt: skip


def _generate(data: dict, where: str) -> Section:
    pairs = data.get("pairs") or {}
    rows = _pick(data, ("documents", "documents_kept", "chunks", "replies"))
    rows += [
        ("pairs accepted", _fmt(pairs.get("accepted"))),
        ("rejected by reason", _fmt(pairs.get("rejected_by_reason"))),
    ]
    by = f"generate: {data.get('generator')}, language {data.get('lang')}, chunks of {data.get('chunk_tokens')} tokens"
    counts = {"accepted": pairs.get("accepted", 0), **(pairs.get("rejected_by_reason") or {})}
    return Section("Generated instructions", where, by, rows,
                   _bars(counts, title="Question-answer pairs", xlabel="pairs") if any(counts.values()) else None)  # fmt: skip


def _review(data: dict, where: str) -> Section:
    by = f"review of {data.get('data')} by hand (decisions in {data.get('decisions')})"
    return Section(
        "Translation review", where, by, _pick(data, ("accepted", "edited", "rejected", "unreviewed"))
    )


def _translate(data: dict, where: str) -> Section:
    outcomes, flags = data.get("rows_by_outcome") or {}, data.get("rows_by_flag") or {}

    def draw(fig, ax):
        labels = [f"rows: {k}" for k in outcomes] + [f"flag: {k}" for k in flags]
        values = list(outcomes.values()) + list(flags.values())
        colors = ["#4c72b0"] * len(outcomes) + ["#dd8452"] * len(flags)
        ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("rows")
        ax.set_title(
            f"Translation outcomes and QE flags ({data.get('backend')} → {data.get('target')})", fontsize=9
        )

    by = (f"translate: backend {data.get('backend')}, model {data.get('model', '?')}, target {data.get('target')}, "
          f"source {data.get('source')}, {data.get('world_size', 1)} process(es)")  # fmt: skip
    return Section("Translation", where, by, _pick(data, ("rows", "unique_segments", "reused_from_store",
                                                          "translated_segments", "failed_segments", "rows_per_second",
                                                          "segments_per_second", "tokens_per_second", "seconds")),
                   _png(draw) if outcomes or flags else None)  # fmt: skip


def _threads(data: dict, where: str) -> Section:
    rows = []
    for split, counts in (data.get("splits") or {}).items():
        rows.append((f"{split}", ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in counts.items())))
    config = data.get("config") or {}
    by = f"threads: language {config.get('lang')}, strategy {config.get('strategy')}, source {data.get('source')}"
    language = config.get("lang") or "source-language"
    return Section(f"Conversations ({language}): {_short(str(data.get('source')))}", where, by,
                   rows + _pick(data, ("pairs_note",)))  # fmt: skip


def _vocabulary(data: dict, where: str) -> Section:
    fertility = data.get("fertility") or {}
    before, after = fertility.get("before") or {}, fertility.get("after") or {}
    rows = [("tokens added", f"{data.get('added_tokens')} (vocabulary {data.get('base_vocab')} → {data.get('new_vocab')})"),
            ("tokens per word, held-out", f"{before.get('tokens_per_word')} → {after.get('tokens_per_word')} "
                                          f"({_fmt(fertility.get('reduction'))} fewer)"),
            ("new tokens used on held-out text", _fmt(data.get("pieces_used_on_held_out"))),
            ("examples", ", ".join(repr(p["piece"]) for p in (data.get("pieces") or [])[:12]))]  # fmt: skip
    by = (f"tokenizer extend of {data.get('base_model')} ({data.get('kind')}) on {data.get('data')}, language "
          f"{data.get('lang')}; {(data.get('lines') or {}).get('held_out')} held-out lines")  # fmt: skip
    bars = {"before": before.get("tokens_per_word") or 0, "after": after.get("tokens_per_word") or 0}
    return Section("Vocabulary extension", where, by, rows,
                   _bars(bars, title="Tokens per word on held-out text", xlabel="tokens per word"))  # fmt: skip


def _training(data: dict, where: str) -> Section:
    history = data.get("loss_history") or []
    config = data.get("config") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (data.get("versions") or {}).items())
    settings = ", ".join(f"{k}={config[k]}" for k in ("lr", "batch_size", "grad_accum", "max_seq_length", "lora_r",
                                                       "epochs", "max_steps", "packing") if k in config)  # fmt: skip
    by = (f"train {data.get('method')} ({data.get('mode')}) of {data.get('model')} on {data.get('data')}; "
          f"{settings}; {versions}")  # fmt: skip

    def draw(fig, ax):
        for key, style in (("loss", "-"), ("eval_loss", "o--")):
            points = [(h["step"], h[key]) for h in history if key in h]
            if points:
                ax.plot(*zip(*points), style, label=key.replace("_", " "))
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        ax.set_title(
            f"{str(data.get('method', '')).upper()} loss — {Path(str(data.get('model'))).name}", fontsize=9
        )

    rows = _pick(data, ("steps", "epochs", "first_loss", "final_loss", "best_eval_loss", "non_pad_tokens_seen",
                        "non_pad_tokens_per_second", "trainable_parameters", "peak_memory_mb", "train_seconds"))  # fmt: skip
    stats = data.get("data_stats") or {}
    if stats.get("languages"):
        mix = f" (--mix {stats['mix']})" if stats.get("mix") else ""
        counts = ", ".join(
            f"{lang} {v['sampled']} of {v['available']}" for lang, v in stats["languages"].items()
        )
        rows.append((f"conversations per language{mix}", counts))
    if stats.get("vocabulary"):
        vocabulary = stats["vocabulary"]
        rows.append(("vocabulary", f"{vocabulary['tokens']} tokens, {vocabulary['added_by_tokenizer_extend']} added by "
                                   f"tokenizer extend; embeddings trained: {vocabulary['embeddings_trained']}"))  # fmt: skip
    if stats.get("replay_conversations") is not None:
        rows.append(
            ("replay conversations", f"{stats['replay_conversations']} ({_fmt(stats.get('replay_share'))})")
        )
    return Section(f"Training: {data.get('method')}", where, by, rows, _png(draw) if history else None)


# (rate key, interval key, label): usable leads; reports written before it had in-language only
FIDELITY_RATES = (("usable_rate", "usable_ci95", "usable (in the language, not degenerate)"),
                  ("pass_rate", "ci95", "in the language"))  # fmt: skip


def fidelity_figure(results: dict, *, title: str) -> bytes:
    names = list(results)
    shown = [r for r in FIDELITY_RATES if all(r[0] in results[n] for n in names)]

    def draw(fig, ax):
        height = 0.8 / len(shown)
        for k, ((rate, ci, label), color) in enumerate(zip(shown, ("#4c72b0", "#bbbbbb"))):
            rates = [results[n][rate] * 100 for n in names]
            low = [r - results[n][ci][0] * 100 for r, n in zip(rates, names)]
            high = [results[n][ci][1] * 100 - r for r, n in zip(rates, names)]
            ax.barh([i + k * height for i in range(len(names))], rates, height=height, xerr=[low, high],
                    color=color, capsize=3, label=label)  # fmt: skip
        ax.set_yticks([i + height * (len(shown) - 1) / 2 for i in range(len(names))], [_short(n) for n in names],
                      fontsize=8)  # fmt: skip
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of replies, 95% CI")
        ax.legend(fontsize=7, loc="lower right")
        ax.set_title(title, fontsize=9)

    return _png(draw, size=(6.4, 1.6 + 0.7 * len(names)))


def _short(name: str) -> str:
    return "+".join(Path(part).name if "/" in part else part for part in name.split("+"))


def fidelity_line(r: dict) -> str:
    """The fidelity command's own line (usable first); reports written before usable was measured
    have the in-language rate only."""
    if "usable_rate" in r:
        from lingualift.evaluate.fidelity import headline

        return headline(r)
    return f"in the language {r['pass_rate']:.1%} (95% CI {r['ci95'][0]:.1%}–{r['ci95'][1]:.1%}) of {r['replies']} replies"


def _fidelity(data: dict, where: str) -> Section:
    first = next(iter(data.values()), {})
    settings = first.get("settings") or {}
    lang = settings.get("lang", "?")
    by = (f"eval fidelity, language {lang}, prompts {settings.get('prompts', '?')} (limit {settings.get('limit')}), "
          f"max {settings.get('max_new_tokens', '?')} new tokens, greedy; {first.get('method', '')}")  # fmt: skip
    rows = [(_short(n), f"{fidelity_line(r)}; leaked {_fmt(r.get('leaked_languages') or 'none')}")
            for n, r in data.items()]  # fmt: skip
    failures = [(n, f, ", ".join(f["leaked"])) for n, r in data.items() for f in (r.get("failure_examples") or [])[:3]]
    failures += [(n, d, d["reason"].replace("_", " ")) for n, r in data.items()
                 for d in (r.get("degenerate_examples") or [])]  # fmt: skip
    items = "".join(f"<li><b>{html.escape(_short(n))}</b> ({html.escape(why)}): {html.escape(f['prompt'][:120])} → "
                    f"<i>{html.escape(f['reply'][:200])}</i></li>" for n, f, why in failures)  # fmt: skip
    extra = (f"<details><summary>examples: other languages and degenerate replies</summary><ul>{items}</ul></details>"
             if failures else "")  # fmt: skip
    return Section("Replies in the language: usable, before and after", where, by, rows,
                   fidelity_figure(data, title=f"Language fidelity ({lang})"), extra)  # fmt: skip


def _judge(data: dict, where: str) -> Section:
    by = (f"eval judge: {data.get('model')} vs {data.get('baseline')}, judge {data.get('judge')}, language "
          f"{data.get('lang')}, prompts {data.get('prompts_source')}; {data.get('method')}")  # fmt: skip
    names = ("win", "tie", "loss")

    def draw(fig, ax):
        rates = [data[f"{n}_rate"] * 100 for n in names]
        errors = [[r - data[f"{n}_ci95"][0] * 100 for r, n in zip(rates, names)],
                  [data[f"{n}_ci95"][1] * 100 - r for r, n in zip(rates, names)]]  # fmt: skip
        ax.bar(names, rates, yerr=errors, capsize=4, color=["#55a868", "#999999", "#c44e52"])
        ax.set_ylim(0, 100)
        ax.set_ylabel("% of judged prompts, 95% CI")
        ax.set_title(f"{_short(str(data.get('model')))} vs {_short(str(data.get('baseline')))}", fontsize=9)

    rows = [(f"{n} rate", f"{data[f'{n}_rate']:.1%} (95% CI {data[f'{n}_ci95'][0]:.1%}–{data[f'{n}_ci95'][1]:.1%})")
            for n in names] + _pick(data, ("prompts", "judged", "one_order_only", "no_verdict", "unparsed_verdicts",
                                           "failed_requests", "order_agreement"))  # fmt: skip
    return Section("LLM judge: win rate", where, by, rows, _png(draw, size=(5, 3)))


def _regression(data: dict, where: str) -> Section:
    by = (f"eval regression: {data.get('model')} vs {data.get('baseline')} on {data.get('data')} "
          f"({data.get('lang')}), assistant-turn loss per conversation, paired, bootstrap 95% CI; "
          f"up to {data.get('max_seq_length')} tokens")  # fmt: skip
    low, high = data.get("loss_difference_ci95") or (0, 0)
    rows = [("loss difference (tuned − baseline)", f"{data.get('loss_difference'):+.4f} (95% CI {low:+.4f} to {high:+.4f})"
             + (" — regressed" if data.get("regressed") else ""))] + _pick(
        data, ("conversations", "tuned_loss", "baseline_loss", "tuned_perplexity", "baseline_perplexity"))  # fmt: skip
    for role, f in (data.get("fidelity") or {}).items():
        rows.append((f"{role} replies in {data.get('lang')}", fidelity_line(f)))
    return Section("Source-language regression", where, by, rows)


def _bench_mt(data: list, where: str) -> Section:
    metrics = ("bleu", "chrf", "chrf++")
    rows = [(r["translator"], ", ".join(f"{m} {r[m]['score']}" for m in metrics)
             + f"; {r.get('segments_per_second')} seg/s, peak {r.get('peak_memory_mb')} MB") for r in data]  # fmt: skip
    signatures = sorted({r[m]["signature"] for r in data for m in metrics})
    by = (
        f"bench-mt on {data[0].get('segments') if data else 0} segments; sacrebleu signatures: "
        + " | ".join(signatures)
    )

    def draw(fig, ax):
        width = 0.8 / len(metrics)
        for i, metric in enumerate(metrics):
            ax.bar(
                [j + i * width for j in range(len(data))],
                [r[metric]["score"] for r in data],
                width,
                label=metric,
            )
        ax.set_xticks(
            [j + width for j in range(len(data))], [_short(r["translator"])[-30:] for r in data], fontsize=7
        )
        ax.set_ylabel("score")
        ax.legend(fontsize=8)
        ax.set_title("MT benchmark", fontsize=9)

    return Section("MT benchmark", where, by, rows, _png(draw) if data else None)


def _harness(data: dict, where: str) -> Section:
    scores = data.get("scores") or {}
    by = (f"lm-evaluation-harness {data.get('harness_version', '?')}: model {data.get('model')}, tasks "
          f"{', '.join(scores)}, {data.get('num_fewshot', 0)}-shot, limit {data.get('limit')}")  # fmt: skip
    rows = [(task, ", ".join(f"{m} {_fmt(v)}" for m, v in values.items())) for task, values in scores.items()]
    main = [(task, next(iter(values.items()))) for task, values in scores.items() if values]

    def draw(fig, ax):
        ax.barh(range(len(main)), [v for _, (_, v) in main], color="#8172b3")
        ax.set_yticks(range(len(main)), [f"{t} ({m})" for t, (m, _) in main], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title("lm-evaluation-harness", fontsize=9)

    return Section("Benchmarks (lm-evaluation-harness)", where, by, rows, _png(draw) if main else None)
