"""`lingualift tokenizer extend`: new vocabulary for a language the base tokenizer splits into many pieces."""

from __future__ import annotations

import typer

from lingualift.sections import Section, bars, fmt
from lingualift.stage import Stage
from lingualift.tools.tokenizer import ExtendConfig, TokenizerReport


def command(config: ExtendConfig) -> None:
    """Train pieces of --lang on --data with the `tokenizers` BPE trainer, add up to --add of those the
    base tokenizer splits into two or more tokens (as merges after the base merges, so old text decodes
    exactly as before), resize the embeddings (new rows: mean of the base sub-token rows) and save the
    model, tokenizer and lingualift_tokenizer.json (fertility before/after on held-out lines) to --out.
    `lingualift train --model OUT` then also trains the embedding and output layers. Byte-level BPE
    (GPT-2, Llama 3, Qwen, SmolLM) and SentencePiece BPE (Llama 2, Mistral, Gemma) tokenizers;
    Unigram and WordPiece ones are refused."""
    from lingualift.tools.tokenizer import extend_tokenizer

    extend_tokenizer(config, echo=typer.echo)


def section(report: TokenizerReport, where: str) -> Section:
    fertility = report.fertility
    before, after = fertility.get("before") or {}, fertility.get("after") or {}
    rows = [
        ("tokens added", f"{report.added_tokens} (vocabulary {report.base_vocab} → {report.new_vocab})"),
        (
            "tokens per word, held-out",
            f"{before.get('tokens_per_word')} → {after.get('tokens_per_word')} "
            f"({fmt(fertility.get('reduction'))} fewer)",
        ),
        ("new tokens used on held-out text", fmt(report.pieces_used_on_held_out)),
        ("examples", ", ".join(repr(p["piece"]) for p in report.pieces[:12])),
    ]
    by = (
        f"tokenizer extend of {report.base_model} ({report.kind}) on {report.data}, language "
        f"{report.lang}; {report.lines.get('held_out')} held-out lines"
    )
    per_word = {"before": before.get("tokens_per_word") or 0, "after": after.get("tokens_per_word") or 0}
    return Section(
        "Vocabulary extension",
        where,
        by,
        rows,
        bars(per_word, title="Tokens per word on held-out text", xlabel="tokens per word"),
    )


STAGE = Stage(
    "tokenizer",
    ExtendConfig,
    command=command,
    command_name="tokenizer extend",
    flags={"out": "--out -o"},
    report="lingualift_tokenizer.json",
    report_type=TokenizerReport,
    section=section,
    # a merged model carries its base's vocabulary record along: the extension is reported once, where it ran
    reported=lambda path: not (path.parent / "lingualift_merge.json").exists(),
)
