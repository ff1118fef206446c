"""Documents in, chunks out: load, clean (whitespace, boilerplate lines repeated across documents,
too short, duplicate or near duplicate, another language), and cut below a token limit
(paragraphs, then sentences, then words)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lingualift.tools.generate.config import GenerateConfig

WORD = re.compile(r"[^\W_]+", re.UNICODE)
URL_ONLY = re.compile(r"^\s*(https?://\S+|www\.\S+)\s*$")


def load_documents(config: GenerateConfig) -> list[tuple[str, str]]:
    """(document id, text) in order."""
    path = Path(config.docs)
    files = sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".md")) if path.is_dir() else []
    if path.is_dir() and files:
        docs = [(str(p.relative_to(path)), p.read_text(encoding="utf-8", errors="replace")) for p in files]
    elif path.suffix in (".txt", ".md") and path.is_file():
        docs = [(path.name, path.read_text(encoding="utf-8", errors="replace"))]
    else:
        from lingualift.io import first_split, load_source, require_columns

        data = first_split(  # with --limit a hub dump (wikimedia/wikipedia:20231101.ig) is streamed
            load_source(config.docs, trust_remote_code=config.trust_remote_code, max_rows=config.limit)
        )
        require_columns(data, [config.text_field], where=f"{config.docs} (--text-field)")
        ids = data["id"] if "id" in data.column_names else range(len(data))
        docs = [(str(i), text or "") for i, text in zip(ids, data[config.text_field])]
    return docs[: config.limit] if config.limit else docs


def _normalise_whitespace(text: str) -> str:
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def clean_documents(
    docs: list[tuple[str, str]],
    *,
    min_chars: int,
    boilerplate_docs: int,
    language: tuple[str, Callable[[str], tuple[str, float]], float] | None = None,
) -> tuple[list, dict]:
    """Cleaned documents and what was removed: whitespace normalised; lines without letters, bare
    URLs, and short lines repeated in `boilerplate_docs` or more documents (menus, cookie notices,
    footers) removed; documents left too short, identical to an earlier one, or a near duplicate of
    one (MinHash over word 3-grams, as `check`) skipped. `language`: (target code, identify, least
    confidence): a document identified as another language, or below the confidence, is skipped."""
    from datasketch import MinHash, MinHashLSH

    from lingualift.tools.check import NEAR_DUPLICATE_JACCARD, _shingles

    lsh = MinHashLSH(threshold=NEAR_DUPLICATE_JACCARD, num_perm=128)
    normalised = [(doc_id, _normalise_whitespace(text)) for doc_id, text in docs]
    seen_in = Counter()
    for _, text in normalised:
        seen_in.update({line for line in text.split("\n") if line and len(line) < 200})
    boilerplate = {line for line, n in seen_in.items() if n >= boilerplate_docs}
    kept, skipped, removed_lines, seen = [], {}, Counter(), set()
    for doc_id, text in normalised:
        lines = []
        for line in text.split("\n"):
            if line in boilerplate:
                removed_lines["boilerplate"] += 1
            elif line and (URL_ONLY.match(line) or not WORD.search(line)):
                removed_lines["no_words"] += 1
            else:
                lines.append(line)
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        if len(cleaned) < max(min_chars, 1):
            skipped[doc_id] = "too_short" if cleaned else "empty"
            continue
        if cleaned in seen:
            skipped[doc_id] = "duplicate"
            continue
        if language is not None:
            target, identify, least = language
            found, score = identify(cleaned)
            if found != target:
                skipped[doc_id] = "other_language"
                continue
            if score < least:
                skipped[doc_id] = "low_language_confidence"
                continue
        signature = MinHash(num_perm=128, seed=1)
        signature.update_batch(list(_shingles(cleaned)) or [cleaned.encode()])
        if lsh.query(signature):
            skipped[doc_id] = "near_duplicate"
            continue
        lsh.insert(doc_id, signature)
        seen.add(cleaned)
        kept.append((doc_id, cleaned))
    return kept, {"lines_removed": dict(removed_lines), "skipped": skipped}


def chunk_document(text: str, count_tokens, limit: int, language: str) -> list[str]:
    """Paragraphs joined up to `limit` tokens; a paragraph over the limit is split at sentences (a
    sentence over the limit at words)."""
    from sentencex import segment

    def pieces(paragraph: str) -> list[str]:
        if count_tokens(paragraph) <= limit:
            return [paragraph]
        try:
            sentences = [s.strip() for s in segment(language, paragraph) if s.strip()]
        except Exception:  # a language sentencex does not know: English rules
            sentences = [s.strip() for s in segment("en", paragraph) if s.strip()]
        out = []
        for sentence in sentences:
            if count_tokens(sentence) <= limit:
                out.append(sentence)
                continue
            words, current = sentence.split(), []
            for word in words:
                if current and count_tokens(" ".join(current + [word])) > limit:
                    out.append(" ".join(current))
                    current = []
                current.append(word)
            if current:
                out.append(" ".join(current))
        return out

    chunks, current = [], ""
    for paragraph in text.split("\n\n"):
        for piece in pieces(paragraph):
            joined = f"{current}\n\n{piece}" if current else piece
            if current and count_tokens(joined) > limit:
                chunks.append(current)
                joined = piece
            current = joined
    if current:
        chunks.append(current)
    return chunks
