"""`lingualift tokenizer extend` on the demo model (SmolLM2-135M, byte-level BPE trained mostly on
English): tokens per word before/after on held-out target-language text, and on English text, side
by side in one run; the ratios are printed last.

    python benchmarks/tokenizer_extend.py [--langs nl,ru,el,hi] [--add 2000] [--model demo]

The text is real translated prose found offline on Debian machines: the gettext catalogs under
/usr/share/locale/LANG/LC_MESSAGES/*.mo (translations of program messages; their English msgids are
the English check text). `--data-dir DIR` uses DIR/LANG.txt instead (one line per sentence), with no
English check unless DIR/en.txt exists.
"""

from __future__ import annotations

import argparse
import gettext
import glob
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def catalog_text(lang: str) -> tuple[list[str], list[str]]:
    """(translations, English originals) of at least four words from the system's gettext catalogs."""
    translated, english = set(), set()
    for path in sorted(glob.glob(f"/usr/share/locale/{lang}/LC_MESSAGES/*.mo")):
        try:
            with open(path, "rb") as handle:
                catalog = gettext.GNUTranslations(handle)._catalog
        except Exception:  # noqa: BLE001 — a catalog Python cannot read
            continue
        for source, text in catalog.items():
            if isinstance(source, str) and source and isinstance(text, str) and len(text.split()) >= 4:
                translated.add(" ".join(text.split()))
                english.add(" ".join(source.split()))
    return sorted(translated), sorted(english)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--langs", default="nl,ru,el,hi")
    parser.add_argument("--add", type=int, default=2000)
    parser.add_argument("--model", default="demo")
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from lingualift.tools.tokenizer import ExtendConfig, extend_tokenizer, fertility

    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="bench-tokenizer-"))
    for lang in args.langs.split(","):
        if args.data_dir:
            source = Path(args.data_dir) / f"{lang}.txt"
            english_file = Path(args.data_dir) / "en.txt"
            english = english_file.read_text().splitlines()[:5000] if english_file.is_file() else []
        else:
            lines, english = catalog_text(lang)
            if len(lines) < 500:
                print(f"{lang}: only {len(lines)} catalog lines on this machine; skipped")
                continue
            source = scratch / f"{lang}.txt"
            source.write_text("\n".join(lines))
        out = scratch / f"extended-{lang}"
        started = time.perf_counter()
        report = extend_tokenizer(
            ExtendConfig(model=args.model, data=str(source), lang=lang, add=args.add, out=str(out)),
            echo=lambda *_: None,
        )
        seconds = time.perf_counter() - started
        row = {
            "lang": lang,
            "lines": report.lines["training"],
            "held_out": report.lines["held_out"],
            "added": report.added_tokens,
            "before": report.fertility["before"]["tokens_per_word"],
            "after": report.fertility["after"]["tokens_per_word"],
            "seconds": seconds,
        }
        if english:
            base = AutoTokenizer.from_pretrained(out / "base_tokenizer")
            grown = AutoTokenizer.from_pretrained(out)
            row["en_before"] = fertility(base, english[:5000])["tokens_per_word"]
            row["en_after"] = fertility(grown, english[:5000])["tokens_per_word"]
        rows.append(row)
        print(
            f"{lang}: {row['lines']} training lines, {row['held_out']} held out, +{row['added']} tokens in "
            f"{seconds:.1f} s; tokens/word {row['before']} → {row['after']}"
            + (f"; English {row['en_before']} → {row['en_after']}" if "en_before" in row else "")
        )
    print("\nlang  target tokens/word after÷before   English tokens/word after÷before")
    for row in rows:
        english = f"{row['en_after'] / row['en_before']:.3f}" if "en_before" in row else "n/a"
        print(f"{row['lang']:<5} {row['after'] / row['before']:.3f}{'':<26}{english}")


if __name__ == "__main__":
    main()
