"""The docs pages: every command's options table is the CLI's own (regenerated, never stale), and
pages read in a minute: no paragraph over ~80 words outside the pages still to rewrite."""

import re
from pathlib import Path

from lingualift import docs_options

ROOT = Path(__file__).resolve().parent.parent
# Pages whose prose is still one long paragraph (issue 37): each leaves this list when rewritten.
STILL_LONG = {
    "README.md",
    "check.md",
    "export.md",
    "fidelity.md",
    "generate.md",
    "judge.md",
    "review.md",
    "run.md",
    "serve.md",
    "threads.md",
    "tokenizer.md",
    "train.md",
}


def _paragraphs(text: str) -> list[str]:
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return [
        p
        for p in re.split(r"\n\s*\n", text)
        if p.strip() and not p.lstrip().startswith(("|", "#", "<!--", "- ", "* ", "1. "))
    ]


def test_every_command_page_holds_the_options_table_the_cli_has_now():
    stale = [p for p, text in docs_options.rendered().items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"stale options tables in {stale}: run python -m lingualift.docs_options"
    tables = {
        m
        for p in (ROOT / "docs").glob("*.md")
        for m in re.findall(r"<!-- options: ([\w -]+?) -->", p.read_text())
    }
    assert {"translate", "respond", "train", "eval fidelity", "export merge"} <= tables


def test_a_changed_option_makes_its_table_stale(monkeypatch):
    page = docs_options.page_for("respond")
    text = page.read_text(encoding="utf-8")
    monkeypatch.setattr(
        type(page), "read_text", lambda self, **_: text.replace("Requests in flight", "Requests")
    )
    assert page in [p for p, fresh in docs_options.rendered().items() if p.read_text() != fresh]


def test_no_paragraph_over_80_words_outside_the_pages_still_to_rewrite():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    long = {
        page.name: [
            len(p.split()) for p in _paragraphs(page.read_text(encoding="utf-8")) if len(p.split()) > 80
        ]
        for page in pages
    }
    long = {name: sizes for name, sizes in long.items() if sizes}
    assert set(long) <= STILL_LONG, {name: long[name] for name in set(long) - STILL_LONG}
    assert not STILL_LONG - set(long), f"rewritten, take them off STILL_LONG: {STILL_LONG - set(long)}"
