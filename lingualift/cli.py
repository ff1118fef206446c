"""The `lingualift` command: a thin typer layer over the library entry points.

Errors the user can fix are `LinguaLiftError`s: printed as one line on stderr, exit code 2.
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from lingualift import __version__
from lingualift.chat import ChatConfig
from lingualift.conversations.threads import ThreadsConfig
from lingualift.errors import ConfigError, LinguaLiftError, error_line
from lingualift.evaluate.config import FidelityConfig
from lingualift.evaluate.harness import HarnessConfig
from lingualift.evaluate.judge import JudgeConfig
from lingualift.evaluate.regression import RegressionConfig
from lingualift.export import GGUFConfig, MergeConfig
from lingualift.options import config_command
from lingualift.serve.config import ServeConfig
from lingualift.tools.check import CheckConfig
from lingualift.tools.generate import GenerateConfig
from lingualift.tools.review.decisions import ReviewConfig
from lingualift.tools.tokenizer import ExtendConfig
from lingualift.train.config import TrainConfig
from lingualift.translate.config import TranslateConfig

app = typer.Typer(
    name="lingualift",
    help=(
        "Teach an open chat LLM a new language: translate an instruction dataset, build "
        "conversations, fine-tune, check the tuned model answers in the language, export it.\n\n"
        "Run `lingualift run` with no arguments for the offline demo pipeline."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lingualift {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        Optional[bool],
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks instead of one-line errors.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="Also show other libraries' progress bars, logs and warnings."),
    ] = False,
) -> None:
    from lingualift import terminal

    _state["debug"] = debug
    terminal.configure(verbose=verbose or debug)


@app.command()
def languages(
    backend: Annotated[
        Optional[str],
        typer.Option(
            "--backend",
            "-b",
            help="Show only this backend's codes: nllb, m2m, mbart, madlad, seamless, opus, tower.",
        ),
    ] = None,
    lang: Annotated[
        Optional[str],
        typer.Option("--lang", "-l", help="Show one language (code or English name) across all backends."),
    ] = None,
) -> None:
    """List supported languages and the code each MT backend uses for them.

    With --lang, resolve one language (e.g. `pt-BR`, `zh-Hant`, `Dutch`) and print its code for
    every backend, or why a backend cannot take it. With --backend, list every language that
    backend supports. LLM backends (llm, openai) take any language by its English name.
    """  # noqa: D301
    from rich.console import Console
    from rich.table import Table

    from lingualift import languages as registry

    console = Console()
    if lang:
        language = registry.get_language(lang)
        table = Table(title=f"{language.name} ({language.tag})")
        table.add_column("backend")
        table.add_column("code")
        for name in registry.BACKENDS:
            try:
                code = registry.backend_code(language, name)
            except LinguaLiftError as error:
                code = f"[red]unsupported[/red]: {str(error).split(' — ', 1)[-1]}"
            table.add_row(name, code)
        console.print(table)
        return
    names = [backend] if backend else list(registry.MT_FAMILIES)
    for name in names:
        entries = registry.supported_languages(name)
        table = Table(title=f"{name}: {len(entries)} languages")
        table.add_column("language")
        table.add_column("tag")
        table.add_column(f"{name} code")
        for code, language in entries:
            table.add_row(language.name, language.tag, code)
        console.print(table)


@app.command()
def run(
    config: Annotated[
        Optional[str],
        typer.Argument(help="Pipeline YAML (`lingualift init` writes one). Leave out for the demo."),
    ] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override a config key, repeatable: --set train.sft.max_steps=5."),
    ] = None,
    limit: Annotated[
        Optional[int], typer.Option(help="Only the first N rows of each split (= --set limit=N).")
    ] = None,
    work_dir: Annotated[
        Optional[str], typer.Option("--work-dir", "--out", help="Work directory (= --set work_dir=DIR).")
    ] = None,
    start: Annotated[
        Optional[str], typer.Option("--from", help="Rerun this stage and everything after it.")
    ] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Stop after this stage.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan and why each stage runs; run nothing.")
    ] = False,
) -> None:
    """Run the whole pipeline: source → translate → threads → train (cpt, sft, dpo/orpo) → evaluate → report.

    Each stage works in its own folder under the work directory and records a fingerprint of its
    config, its inputs and the package versions: running the same command again skips unchanged
    stages, reruns a changed stage and everything downstream, and resumes a stage that was killed.
    Without a config: the offline demo (English sample → Dutch with the bundled SmolLM2-135M, a
    short LoRA SFT, language fidelity before/after, an HTML report).
    """
    import yaml

    from lingualift.pipeline import load_config, run_pipeline

    overrides = {}
    for item in set_ or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY=VALUE, e.g. train.sft.max_steps=5")
        overrides[key.strip()] = yaml.safe_load(value)
    if limit is not None:
        overrides["limit"] = limit
    if work_dir is not None:
        overrides["work_dir"] = work_dir
    run_pipeline(load_config(config, overrides), start=start, until=until, dry_run=dry_run, echo=typer.echo)


@app.command()
def init(
    path: Annotated[str, typer.Argument(help="Where to write the config.")] = "pipeline.yaml",
    lang: Annotated[str, typer.Option(help="Target language (code or English name).")] = "nl",
    preset: Annotated[
        str, typer.Option(help="demo, llama2lang (QLoRA, oasst1, NLLB), bactrian-lora, or cpt-sft.")
    ] = "demo",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented pipeline config from a preset recipe; edit it, then `lingualift run PATH`."""
    from pathlib import Path

    from lingualift.languages import get_language
    from lingualift.pipeline.config import load_config, preset_text, stage_configs

    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} exists: pass --force to overwrite it")
    text = preset_text(preset, get_language(lang).tag)
    target.write_text(text, encoding="utf-8")
    stage_configs(load_config(target))  # a preset must always validate
    typer.echo(
        f"wrote {target} ({preset} preset, language {get_language(lang).name}); run: lingualift run {target}"
    )


SOURCE_ARGUMENT = typer.Argument(help="Dataset: hub id, save_to_disk dir, or jsonl/csv/parquet files.")


@config_command(app, ThreadsConfig)
def threads(
    config: ThreadsConfig,
    source: Annotated[str, SOURCE_ARGUMENT],
    out: Annotated[str, typer.Option("--out", "-o", help="Output directory for the threads (save_to_disk).")],
    pairs_out: Annotated[
        Optional[str], typer.Option(help="Also write DPO/ORPO preference pairs (oasst ranks) here.")
    ] = None,
    split: Annotated[Optional[str], typer.Option(help="Only this split of the source.")] = None,
) -> None:
    """Turn (translated) data into conversations: oasst trees to threads, other formats to messages.

    oasst1-style trees become one thread per root, following the best-ranked reply at each step
    (a null rank counts as worse than any ranked one; ties keep dataset order), trimmed to end
    on an assistant turn. Deleted, failed-review, empty, orphaned and cyclic messages are counted
    in threads_report.json, never silently dropped. ShareGPT, Alpaca, OpenAI messages and Dolly
    inputs are detected from their columns. thread_message_ids.json lists the messages the
    threads use, so translation can be limited to them.
    """
    from lingualift.conversations.threads import write_threads

    report = write_threads(source, out, config, pairs_out=pairs_out, split=split)
    for name, counts in report["splits"].items():
        skipped = {k[8:]: v for k, v in counts.items() if k.startswith("skipped_") and v}
        typer.echo(
            f"{name} ({counts['format']}): {counts['threads']} threads, {counts['pairs']} pairs"
            + (f"; skipped {skipped}" if skipped else "")
        )
    typer.echo(f"threads: {report['out']}" + (f"  pairs: {report.get('pairs_out')}" if pairs_out else ""))


@config_command(
    app,
    TranslateConfig,
    flags={"source_lang": "--from", "quant4": "--quant4", "quant8": "--quant8", "ct2": "--ct2"},
)
def translate(
    config: TranslateConfig,
    source: Annotated[str, SOURCE_ARGUMENT],
    out: Annotated[str, typer.Option("--out", "-o", help="Output directory (save_to_disk DatasetDict).")],
) -> None:
    """Translate a dataset's text column into another language, exactly once per unique segment.

    Messages are split into sentences (code blocks, inline code, URLs and markup are kept),
    identical segments are translated once, sorted by length and batched by a token budget; each
    batch is committed to a SQLite store, so re-running the same command resumes after a kill.
    The output keeps the input's splits and columns, with the text translated, the language
    field set to the target, plus source_text, translator and qe_flags (quality flags:
    repetition, length_ratio, wrong_language, echo, lost_placeholder, commentary, failed).
    """
    from lingualift.translate.engine import translate_dataset

    report = translate_dataset(config, out, echo=typer.echo)
    if "rows" in report:
        typer.echo(
            f"{report['rows']} rows → {out}: {report['rows_by_outcome']}; "
            f"{report['translated_segments']} segments translated, {report['reused_from_store']} reused, "
            f"{report['failed_segments']} failed ({report['rows_per_second']} rows/s)"
        )


@config_command(app, CheckConfig, flags={"out": "--out -o"})
def check(config: CheckConfig, data: Annotated[str, SOURCE_ARGUMENT]) -> None:
    """Look at a dataset before training on it: tokens per conversation and turn with the model's
    tokenizer and chat template (percentiles, histogram), the share --max-seq-length would cut,
    turns per conversation, the language of every turn, exact and near duplicates, empty and very
    short turns, a training estimate (measured on this machine, and GPU-hours from an assumed
    throughput table) and, with --price-per-million-chars, what translating it through an API costs.
    Writes check.json and token_histogram.png to --out."""
    from lingualift.tools.check import check_dataset

    check_dataset(config, echo=typer.echo)


@config_command(app, GenerateConfig, flags={"out": "--out -o"})
def generate(config: GenerateConfig) -> None:
    """Write grounded question-answer conversations from raw target-language documents (a Wikipedia or
    news dump you provide): clean, chunk below --chunk-tokens, ask a local model or any OpenAI-compatible
    endpoint for --pairs-per-chunk pairs as JSON, repair what is almost JSON, keep pairs whose answer is
    in the language and grounded in the chunk. Output: `train` (messages) and `rejected` (with reasons)
    splits, chat.jsonl (OpenAI chat format), generate_report.json. Re-running resumes; failed requests
    are retried."""
    from lingualift.tools.generate import generate_conversations

    generate_conversations(config, echo=typer.echo)


@config_command(app, ReviewConfig)
def review(
    config: ReviewConfig,
    target: Annotated[
        str,
        typer.Argument(
            help="Translated dataset (save_to_disk dir) to review, or `export`.", metavar="DATA|export"
        ),
    ],
    data: Annotated[
        Optional[str], typer.Argument(help="With `export`: the reviewed dataset.", metavar="DATA")
    ] = None,
    out: Annotated[
        Optional[str], typer.Option("--out", "-o", help="With `export`: where to write the result.")
    ] = None,
) -> None:
    """Review translations by hand: `lingualift review DATA` serves a page on 127.0.0.1 listing each
    row's source, translation and quality flags; filter by flag, then accept (a), edit (e) or reject
    (r, with a reason) with the keyboard. Every decision is saved in SQLite (DATA.review.sqlite) as it
    is made, so stopping or killing the server loses nothing; run it again to continue.
    `lingualift review export DATA --out DIR` applies the decisions: edited text replaces the
    translation, rejected rows move to a `rejected` split with their reason."""
    from lingualift.errors import ConfigError

    if target == "export":
        if not data or not out:
            raise ConfigError(
                "review export needs the dataset and --out: lingualift review export DATA --out DIR"
            )
        from lingualift.tools.review.decisions import apply_decisions

        apply_decisions(data, out, config, echo=typer.echo)
        return
    if data or out:
        raise ConfigError(
            "review takes one dataset; to apply decisions: lingualift review export DATA --out DIR"
        )
    from lingualift.tools.review.server import start_review

    server = start_review(target, config, echo=typer.echo)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped; decisions are saved")
    finally:
        server.server_close()


@config_command(
    app,
    TrainConfig,
    flags={"full": "--full/--lora", "quant4": "--quant4", "quant8": "--quant8", "resume": "--resume",
           "assistant_only_loss": "--assistant-only-loss/--all-tokens", "out": "--out -o"},
)  # fmt: skip
def train(
    config: TrainConfig,
    method: Annotated[
        str, typer.Argument(help="sft, dpo, orpo or cpt (continued pre-training on raw text).")
    ],
) -> None:
    """Fine-tune a model: SFT (LoRA, QLoRA or full), DPO, ORPO, or continued pre-training.

    Writes the adapter (or full weights) with the tokenizer and its chat template, a
    training_report.json (tokens seen, non-pad tokens/s, trainable parameters, losses, peak
    memory, wall time, versions) and loss_curve.png. Checkpoints go to OUT/checkpoints; running
    the same command again continues from the last one. Several GPUs: --accelerate-config ddp
    (or fsdp, zero2, zero3), or `accelerate launch -m lingualift train ...` yourself.
    """
    from lingualift.train.run import run_training

    run_training(config, echo=typer.echo)


eval_app = typer.Typer(
    help="Evaluate a tuned model: language fidelity, LLM-judge win rate, lm-eval tasks, source-language regression.",
    no_args_is_help=True,
)
app.add_typer(eval_app, name="eval")


@config_command(eval_app, FidelityConfig, name="fidelity")
def eval_fidelity(config: FidelityConfig) -> None:
    """Does the model answer in the language? Line-level pass rate with a bootstrap 95% interval.

    Each reply is split into lines; lines under 5 words (under 10 characters for scripts written
    without spaces) are skipped; the rest are identified with fastText lid.176, a label counting
    above 0.3 confidence. A reply passes when no line is in another language.
    """
    from lingualift.evaluate.fidelity import run_fidelity

    run_fidelity(config, echo=typer.echo)


@config_command(eval_app, HarnessConfig, name="harness")
def eval_harness(config: HarnessConfig) -> None:
    """Run lm-evaluation-harness tasks for the target language (belebele, xcopa, xwinograd, mgsm,
    global_mmlu, ... or your own YAML tasks over local files with --include-path) on the model or
    base + adapter; scores and standard errors go to harness.json, which `lingualift report` shows.
    Needs the harness extra: pip install 'lingualift[harness]'."""
    from lingualift.evaluate.harness import run_harness

    run_harness(config, echo=typer.echo)


@config_command(eval_app, RegressionConfig, name="regression")
def eval_regression(config: RegressionConfig) -> None:
    """Did tuning cost the source language? Held-out loss on source-language conversations (tuned minus
    baseline, paired per conversation, bootstrap 95% interval; perplexities) and source-language
    fidelity of both models. An interval above zero is reported as a regression."""
    from lingualift.evaluate.regression import run_regression

    run_regression(config, echo=typer.echo)


@config_command(eval_app, JudgeConfig, name="judge")
def eval_judge(config: JudgeConfig) -> None:
    """Pairwise LLM-as-judge: the model's and the baseline's answers to the same prompts, judged by a
    model behind an OpenAI-compatible endpoint (vLLM, llama.cpp server, a hosted API) in both orders
    so position bias cancels; the rubric requires answers in the target language. Win/tie/loss rates
    with bootstrap 95% intervals; unparsable verdicts and failed requests are counted."""
    from lingualift.evaluate.judge import run_judge

    run_judge(config, echo=typer.echo)


@app.command("bench-mt")
def bench_mt(
    data: Annotated[
        str, typer.Option(help="Pairs: src.txt,ref.txt (FLORES-style), a .tsv, a .jsonl or dataset.")
    ],
    to: Annotated[str, typer.Option("--to", help="Target language.")],
    from_: Annotated[str, typer.Option("--from", help="Source language.")] = "en",
    backend: Annotated[
        Optional[list[str]],
        typer.Option(help="Backend to compare, repeatable; `backend=model` picks the model (e.g. opus=DIR)."),
    ] = None,
    source_field: Annotated[str, typer.Option(help="Source column for dataset pairs.")] = "source",
    reference_field: Annotated[str, typer.Option(help="Reference column for dataset pairs.")] = "reference",
    ct2: Annotated[bool, typer.Option("--ct2", help="Use CTranslate2 (seq2seq backends, llm, tower).")] = False,
    batch_tokens: Annotated[int, typer.Option(help="Token budget per batch.")] = 4096,
    out: Annotated[str, typer.Option(help="Directory for bench_mt.json and bench_mt.png.")] = "runs/bench-mt",
) -> None:
    """Benchmark MT backends on reference translations: BLEU, chrF, chrF++ (sacrebleu, with
    signatures), segments/s, tokens/s and peak memory; a table, JSON and a bar chart PNG."""
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    from lingualift.evaluate.mt import benchmark_backends, write_outputs
    from lingualift.languages import get_language

    src, tgt = get_language(from_), get_language(to)
    count, results = benchmark_backends(data, src, tgt, backend or ["nllb"], source_field=source_field,
                                        reference_field=reference_field, ct2=ct2, batch_tokens=batch_tokens)  # fmt: skip
    table = Table(title=f"{src.name} → {tgt.name}: {count} segments")
    for column in ("translator", "BLEU", "chrF", "chrF++", "seg/s", "tok/s", "peak MB"):
        table.add_column(column)
    for r in results:
        table.add_row(r["translator"], f"{r['bleu']['score']:.2f}", f"{r['chrf']['score']:.2f}",
                      f"{r['chrf++']['score']:.2f}", str(r["segments_per_second"]),
                      str(r["source_tokens_per_second"]), str(r["peak_memory_mb"]))  # fmt: skip
    Console().print(table)
    for name in ("bleu", "chrf", "chrf++"):
        typer.echo(f"{name}: {results[0][name]['signature']}")
    write_outputs(results, Path(out), title=f"{src.name} → {tgt.name} ({count} segments, {data})")
    typer.echo(f"results: {Path(out) / 'bench_mt.json'}  chart: {Path(out) / 'bench_mt.png'}")


MODEL_ARGUMENT = typer.Argument(help="Chat model: `demo`, a hub id, a merged model, or an adapter directory.")


@config_command(app, ChatConfig)
def chat(config: ChatConfig, model: Annotated[str, MODEL_ARGUMENT]) -> None:
    """Talk to a model: an interactive REPL with streamed replies and multi-turn history (/reset,
    /system TEXT, /exit), a one-shot --prompt, or batched generation --input FILE.jsonl --out FILE.jsonl
    (rows with `prompt` or `messages`; sorted by length and batched; a `reply` added to each row).

    MODEL may be `demo`, a hub id, a merged model, or an adapter directory from `lingualift train`
    (its base is loaded and the adapter applied); --adapter puts an adapter on MODEL explicitly.
    """
    from lingualift.chat import run_chat

    run_chat(config, echo=typer.echo)


@config_command(app, ServeConfig)
def serve(config: ServeConfig, model: Annotated[str, MODEL_ARGUMENT]) -> None:
    """Serve a model over an OpenAI-compatible API (/v1/models, /v1/chat/completions with SSE
    streaming) and a web chat page at /. Listens on 127.0.0.1 unless --host says otherwise."""
    from lingualift.serve.server import start_server

    server = start_server(config, echo=typer.echo)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        typer.echo("stopped")
    finally:
        server.server_close()


@app.command("report")
def report(
    run_dir: Annotated[
        str,
        typer.Argument(
            help="A pipeline work directory, or any folder holding the outputs of "
            "lingualift commands (searched recursively)."
        ),
    ],  # fmt: skip
    out: Annotated[
        Optional[str], typer.Option("--out", "-o", help="Output folder (default: RUN_DIR/report).")
    ] = None,
    title: Annotated[Optional[str], typer.Option(help="Page title.")] = None,
) -> None:
    """One self-contained HTML page (plots embedded as PNG) from a run: translation counts and QE flags,
    training loss curves, language fidelity before/after, LLM-judge win rates, MT benchmark scores and
    harness scores, each labelled with the model, data, settings and versions that produced it. Also
    report.md and the PNG files."""
    from pathlib import Path

    from lingualift.report import write_report

    typer.echo(f"report: {write_report(Path(run_dir), Path(out) if out else None, title=title)}")


export_app = typer.Typer(
    help="Ship a tuned model: merge an adapter into its base, or convert to GGUF for llama.cpp/Ollama.",
    no_args_is_help=True,
)
app.add_typer(export_app, name="export")


@config_command(export_app, MergeConfig, name="merge")
def export_merge(config: MergeConfig) -> None:
    """Merge a LoRA adapter into its base: plain safetensors weights + tokenizer + chat template,
    loadable by anything that loads a transformers model (and llama.cpp's GGUF converter)."""
    from lingualift.export import merge_adapter

    merge_adapter(config, echo=typer.echo)


@config_command(export_app, GGUFConfig, name="gguf", flags={"out": "--out -o"})
def export_gguf(config: GGUFConfig) -> None:
    """Convert a model (or base + LoRA adapter, merged first) to one GGUF file with llama.cpp's
    converter (convert-hf-to-gguf), then load it back with transformers and compare greedy output
    with the source model. The file runs in llama.cpp, Ollama and LM Studio."""
    from lingualift.export import export_gguf as run_export

    run_export(config, echo=typer.echo)


tokenizer_app = typer.Typer(
    help="Extend a model's vocabulary for a language its tokenizer splits into many pieces.",
    no_args_is_help=True,
)
app.add_typer(tokenizer_app, name="tokenizer")


@config_command(tokenizer_app, ExtendConfig, name="extend", flags={"out": "--out -o"})
def tokenizer_extend(config: ExtendConfig) -> None:
    """Train pieces of --lang on --data with the `tokenizers` BPE trainer, add up to --add of those the
    base tokenizer splits into two or more tokens (as merges after the base merges, so old text decodes
    exactly as before), resize the embeddings (new rows: mean of the base sub-token rows) and save the
    model, tokenizer and lingualift_tokenizer.json (fertility before/after on held-out lines) to --out.
    `lingualift train --model OUT` then also trains the embedding and output layers. Byte-level BPE
    (GPT-2, Llama 3, Qwen, SmolLM) and SentencePiece BPE (Llama 2, Mistral, Gemma) tokenizers;
    Unigram and WordPiece ones are refused."""
    from lingualift.tools.tokenizer import extend_tokenizer

    extend_tokenizer(config, echo=typer.echo)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turn LinguaLiftError into one line and exit code 2."""
    try:
        app(args=argv, prog_name="lingualift")  # click handles usage errors itself (exit 2)
    except LinguaLiftError as error:
        if _state["debug"]:
            raise
        typer.echo(error_line(error), err=True)  # always one line
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
