"""The docs pages: every command's options table is the CLI's own (regenerated, never stale), and
pages read in a minute: no paragraph, list item or table row over ~80 words outside the pages still
to rewrite."""

import re
from pathlib import Path

from lingualift import docs_options

ROOT = Path(__file__).resolve().parent.parent


def _paragraphs(text: str) -> list[str]:
    """What a reader takes in at once: each paragraph, each list item, each table row (headings,
    code blocks and the options markers left out)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    units = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.strip().splitlines() if not line.lstrip().startswith(("#", "<!--"))]
        if not lines:
            continue
        if lines[0].lstrip().startswith("|"):
            units += lines  # a table: row by row
        elif re.match(r"\s*([-*]|\d+\.) ", lines[0]):
            items: list[str] = []
            for line in lines:
                if re.match(r"\s*([-*]|\d+\.) ", line) or not items:
                    items.append(line)
                else:
                    items[-1] += " " + line
            units += items
        else:
            units.append(" ".join(lines))
    return units


def test_every_command_page_holds_the_options_table_the_cli_has_now():
    stale = [p for p, text in docs_options.rendered().items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"stale options tables in {stale}: run python -m lingualift.docs_options"
    # every command with options has its generated block on its page (run.md documents run/init by hand)
    missing = [
        name
        for name, command in docs_options.commands().items()
        if name not in docs_options.HAND_WRITTEN
        and command.params
        and f"<!-- options: {name} -->" not in docs_options.page_for(name).read_text(encoding="utf-8")
    ]
    assert not missing, f"command pages without their options block: {missing}"
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


def test_no_paragraph_list_item_or_table_row_over_80_words_and_a_short_readme():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    long = {
        page.name: [
            len(p.split()) for p in _paragraphs(page.read_text(encoding="utf-8")) if len(p.split()) > 80
        ]
        for page in pages
    }
    assert not {name: sizes for name, sizes in long.items() if sizes}
    assert len((ROOT / "README.md").read_text(encoding="utf-8").split()) <= 1000


def test_every_flag_verdict_and_reason_the_code_writes_is_defined_on_the_page_the_readme_links():
    """One click from the README: docs/flags.md names each word a row can carry."""
    assert "(docs/flags.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "flags.md").read_text(encoding="utf-8")
    source = {
        name: (ROOT / "lingualift" / name).read_text(encoding="utf-8")
        for name in (
            "translate/quality.py",
            "translate/engine.py",
            "translate/backends/llm.py",
            "translate/backends/early_stop.py",
            "translate/backends/seq2seq.py",
            "tools/respond/filters.py",
            "tools/respond/run.py",
            "tools/generate/replies.py",
            "tools/generate/run.py",
            "evaluate/fidelity.py",
            "conversations/oasst.py",
            "conversations/formats.py",
        )
    }
    words = set()
    for text in source.values():
        words |= set(re.findall(r'flags\.append\(f?"(\w+)', text))
        words |= set(re.findall(r'\["(\w+)"\] \*', text))  # early_stop.watch_flags
        words |= set(re.findall(r'(?:return|reason =) "(\w+)"', text))
        words |= set(re.findall(r'reasons\["(\w+)"\]', text))
        words |= set(re.findall(r'return (?:pair|None|\{[^\n]*\}), f?"(\w+)', text))
        words |= set(re.findall(r'"(\w+)", "(?:request_failed|empty_prompt)"', text))
    words -= {"oasst", "sharegpt", "openai", "alpaca", "dolly", "text", "user", "assistant", "system"}
    assert {"repetition", "commentary", "loop", "prompt_copy", "refusal", "ungrounded", "cycle"} <= words
    missing = sorted(w for w in words if f"`{w}" not in page)
    assert not missing, f"docs/flags.md does not define {missing}"


def test_the_docs_site_builds_strict_with_every_page_in_the_nav_and_no_broken_link(tmp_path):
    """mkdocs (Material) over docs/: a missing page, a page outside the nav or a broken link or
    anchor fails the build. CI installs mkdocs with the dev extra; a machine without it skips."""
    import importlib.util
    import os
    import subprocess
    import sys

    import pytest
    import yaml

    if importlib.util.find_spec("mkdocs") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is not installed: the dev extra installs it")
        pytest.skip("mkdocs is not installed (pip install -e '.[dev]')")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(nav):
        for item in nav:
            value = next(iter(item.values())) if isinstance(item, dict) else item
            yield from pages(value) if isinstance(value, list) else [value]

    assert sorted(pages(config["nav"])) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "site" / "flags" / "index.html").exists()
