"""The options lists of docs/<command>.md, written from the CLI itself (so from each stage's config,
the registry being the one source): `python -m lingualift.docs_options` rewrites them, `--check`
lists the stale ones (the test suite runs it).

A page holds one options list per command between `<!-- options: COMMAND -->` and `<!-- /options -->`;
a command whose page has none gets an "Options" section appended."""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def commands() -> dict[str, object]:
    """'translate', 'eval fidelity', ... → the click command."""
    import typer

    from lingualift.cli import app

    root = typer.main.get_command(app)
    found = {}
    for name, command in root.commands.items():
        for sub, inner in getattr(command, "commands", {}).items():
            found[f"{name} {sub}"] = inner
        if not hasattr(command, "commands"):
            found[name] = command
    return found


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def options_list(command) -> str:
    """The options as a list, one item (and paragraph) an option: flags, default, meaning."""
    items = []
    for param in command.params:
        if param.name == "help":
            continue
        if param.param_type_name == "argument":
            items.append(f"- `{param.name.upper()}` (required): {_cell(getattr(param, 'help', '') or '')}")
            continue
        flags = " / ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
        default = (
            " (required)"
            if param.required
            else ""
            if param.default in (None, "")
            else f" (default `{param.default}`)"
        )
        items.append(f"- {flags}{default}: {_cell(param.help or '')}")
    return "\n\n".join(items)


def page_for(command: str) -> Path:
    words = command.split()
    for name in (words[-1], words[0]):
        if (DOCS / f"{name}.md").is_file():
            return DOCS / f"{name}.md"
    return DOCS / f"{words[-1]}.md"


# commands whose options run.md documents by hand, with the pipeline config they work on
HAND_WRITTEN = ("run", "init", "demo")


def rendered() -> dict[Path, str]:
    """Every page's text with its options lists as the CLI has them now."""
    pages: dict[Path, str] = {}
    for name, command in sorted(commands().items()):
        if name in HAND_WRITTEN or not command.params:
            continue
        path = page_for(name)
        if not path.is_file():
            continue
        text = pages.get(path) or path.read_text(encoding="utf-8")
        block = f"<!-- options: {name} -->\n\n{options_list(command)}\n\n<!-- /options -->"
        pattern = re.compile(rf"<!-- options: {re.escape(name)} -->\n.*?<!-- /options -->", re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _, block=block: block, text)
        else:
            text = text.rstrip() + f"\n\n## Options: `lingualift {name}`\n\n{block}\n"
        pages[path] = text
    return pages


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stale = [path for path, text in rendered().items() if path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in stale:
            print(
                f"stale options list: {path.relative_to(DOCS.parent)} (run python -m lingualift.docs_options)"
            )
        return 1 if stale else 0
    for path, text in rendered().items():
        if path in stale:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(DOCS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
