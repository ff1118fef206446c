"""The `lingualift` command: a thin typer layer over the library entry points.

Errors the user can fix are `LinguaLiftError`s: printed as one line on stderr, exit code 2.
`--debug` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from lingualift import __version__
from lingualift.errors import LinguaLiftError

app = typer.Typer(
    name="lingualift",
    help=(
        "Teach an open chat LLM a new language: translate an instruction dataset, build "
        "conversations, fine-tune, check the tuned model answers in the language, export it.\n\n"
        "Run `lingualift run` with no arguments for the offline demo pipeline."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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
) -> None:
    _state["debug"] = debug


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
        typer.Argument(help="Pipeline YAML config. Leave out to run the embedded offline demo."),
    ] = None,
) -> None:
    """Run the pipeline from a YAML config, or the offline demo when no config is given.

    The demo uses the embedded English oasst1-format sample and the bundled SmolLM2-135M-Instruct
    model (`demo`), so it needs no network and no GPU.
    """
    from lingualift.pipeline import load_config, run_pipeline

    run_pipeline(load_config(config), echo=typer.echo)


def main(argv: list[str] | None = None) -> int:
    """Console entry point: run the app, turn LinguaLiftError into one line and exit code 2."""
    try:
        app(args=argv, prog_name="lingualift")  # click handles usage errors itself (exit 2)
    except LinguaLiftError as error:
        if _state["debug"]:
            raise
        typer.echo(f"error: {error}", err=True)
        return 2
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
