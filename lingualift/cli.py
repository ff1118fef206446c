"""The `lingualift` command: a thin typer layer over the library entry points. The stage commands
are built from the stage registry (`lingualift.stages`); the commands about stages (run, init,
report, languages) are declared here.

Errors the user can fix are `LinguaLiftError`s: printed as one line on stderr, exit code 2.
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from lingualift import __version__
from lingualift.errors import ConfigError, LinguaLiftError, error_line
from lingualift.options import config_command

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
        from lingualift.language_id import identifier

        checks = Table(title="language identifiers (fidelity, respond, translate's flags, check, generate)")
        checks.add_column("--lid")
        checks.add_column(f"knows {language.name}")
        for spec in ("lid.176", "heliport"):
            try:
                known = "yes" if identifier(spec).knows(language.tag) else "[red]no[/red]"
            except LinguaLiftError as error:
                known = f"not installed: {str(error).split(': ', 1)[-1]}"
            checks.add_row(spec, known)
        checks.add_row("FILE", "a fastText LID model file: GlotLID (2,000+ languages), OpenLID (201)")
        console.print(checks)
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
    from lingualift.pipeline import load_config, run_pipeline
    from lingualift.pipeline.config import set_overrides

    overrides = set_overrides(set_ or [])
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
        str,
        typer.Option(
            help="demo, llama2lang (QLoRA, oasst1, NLLB), bactrian (teacher answers), tagengo (native prompts), or cpt-sft."
        ),
    ] = "demo",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented pipeline config from a preset recipe; edit it, then `lingualift run PATH`."""
    from pathlib import Path

    from lingualift.languages import get_language
    from lingualift.pipeline.config import load_config, plan_steps, preset_text

    target = Path(path)
    if target.exists() and not force:
        raise ConfigError(f"{target} exists: pass --force to overwrite it")
    text = preset_text(preset, get_language(lang).tag)
    target.write_text(text, encoding="utf-8")
    try:
        plan_steps(load_config(target))  # a preset validates, but for what it marks REQUIRED
    except ConfigError as error:
        if "# REQUIRED" not in text:
            raise
        typer.echo(f"wrote {target} ({preset} preset); fill in what it marks REQUIRED first: {error}")
        return
    typer.echo(
        f"wrote {target} ({preset} preset, language {get_language(lang).name}); run: lingualift run {target}"
    )


@app.command("report")
def report(
    run_dir: Annotated[
        str,
        typer.Argument(
            help="A pipeline work directory, or any folder holding the outputs of "
            "lingualift commands (searched recursively)."
        ),
    ],
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


GROUPS = {
    "eval": "Evaluate a tuned model: language fidelity, LLM-judge win rate, lm-eval tasks, source-language regression.",
    "export": "Ship a tuned model: merge an adapter into its base, or convert to GGUF for llama.cpp/Ollama.",
    "tokenizer": "Extend a model's vocabulary for a language its tokenizer splits into many pieces.",
}


def _add_stage_commands(app: typer.Typer) -> None:
    """One command per stage in the registry, its options generated from the stage's config."""
    from lingualift.stages import registry

    groups: dict[str, typer.Typer] = {}
    for stage in registry():
        if stage.command is None:
            continue
        *group, name = stage.cli_path
        parent = app
        if group:
            if group[0] not in groups:
                groups[group[0]] = typer.Typer(help=GROUPS[group[0]], no_args_is_help=True)
                app.add_typer(groups[group[0]], name=group[0])
            parent = groups[group[0]]
        config_command(parent, stage.config, name=name, flags=stage.flags)(stage.command)


_add_stage_commands(app)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turn LinguaLiftError into one line and exit code 2."""
    import sys

    from lingualift import data_push

    data_push.INVOKED[:] = list(sys.argv[1:] if argv is None else argv)  # a pushed dataset's card names it
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
