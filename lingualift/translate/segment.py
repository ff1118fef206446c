"""Split a message into translatable sentences and verbatim structure, and join it back.

Fenced code blocks, list markers, headings, quotes, table pipes and all whitespace are kept
verbatim; inline code and URLs inside a sentence become numbered placeholders that are restored
after translation (a placeholder the translator lost flags the segment). Joining the pieces
with the identity translation gives back the input byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE = re.compile(r"(^|\n)([ \t]*)(```|~~~)[^\n]*\n.*?(\n[ \t]*\3[ \t]*(?=\n|$)|\Z)", re.DOTALL)
LINE_PREFIX = re.compile(r"^([ \t]*(?:(?:[-*+]|\d{1,3}[.)])[ \t]+|#{1,6}[ \t]+|>[ \t]?)*)")
TABLE_RULE = re.compile(r"^[ \t]*\|?[ \t:|-]+\|[ \t:|-]*$")
PROTECTED = re.compile(
    r"`[^`\n]+`|https?://[^\s<>()\[\]`]+[^\s<>()\[\]`.,;:!?'\"]|www\.[^\s<>()`]+[^\s<>()`.,;:!?]"
)
PLACEHOLDER = "⟦{}⟧"
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)


@dataclass
class Piece:
    """`text` is sent to the translator when `translate` is true, else kept verbatim."""

    text: str
    translate: bool = False
    protected: list[str] = field(default_factory=list)  # originals of ⟦0⟧, ⟦1⟧, ...


def split_message(text: str, *, max_chars: int = 600, language: str = "en") -> list[Piece]:
    pieces: list[Piece] = []
    position = 0
    for match in FENCE.finditer(text):
        start = match.start() + len(match.group(1))
        _split_prose(text[position:start], pieces, max_chars, language)
        pieces.append(Piece(text[start : match.end()]))
        position = match.end()
    _split_prose(text[position:], pieces, max_chars, language)
    return _merge_literals(pieces)


def _split_prose(text: str, pieces: list[Piece], max_chars: int, language: str) -> None:
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        if TABLE_RULE.match(body) or not LETTER.search(body):
            pieces.append(Piece(line))
            continue
        if body.lstrip().startswith("|"):
            for cell in re.split(r"(\|)", body):
                _split_sentences(cell, pieces, max_chars, language)
        else:
            prefix = LINE_PREFIX.match(body).group(1)
            pieces.append(Piece(prefix))
            _split_sentences(body[len(prefix) :], pieces, max_chars, language)
        pieces.append(Piece(ending))


def _split_sentences(text: str, pieces: list[Piece], max_chars: int, language: str) -> None:
    if not LETTER.search(text) or text == "|":
        pieces.append(Piece(text))
        return
    lead = text[: len(text) - len(text.lstrip())]
    body = text.strip()
    trail = text[len(lead) + len(body) :]
    pieces.append(Piece(lead))
    for sentence in _sentences(body, language):
        core = sentence.rstrip()
        for chunk in _bounded(core, max_chars):
            pieces.append(_protect(chunk))
        pieces.append(Piece(sentence[len(core) :]))
    pieces.append(Piece(trail))


def _sentences(text: str, language: str) -> list[str]:
    from sentencex import segment

    try:
        parts = list(segment(language, text))
    except Exception:  # an unknown language code: fall back to English rules
        parts = list(segment("en", text))
    return parts if "".join(parts) == text else [text]


# after a clause mark followed by a space, after any space, or after a CJK clause or sentence mark
# (those scripts write no spaces)
CUT_POINT = re.compile(r"(?<=[,;:])(?=\s)|(?<=\s)|(?<=[，；：、。！？])")


def _bounded(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence longer than max_chars at clause, then word boundaries (spaces kept)."""
    if len(sentence) <= max_chars:
        return [sentence]
    chunks, current = [], ""
    for part in CUT_POINT.split(sentence):
        if current and len(current) + len(part) > max_chars:
            chunks.append(current)
            current = ""
        current += part
        while len(current) > max_chars:  # a single unbroken run of characters
            chunks.append(current[:max_chars])
            current = current[max_chars:]
    if current:
        chunks.append(current)
    return chunks


def cut_by_tokens(text: str, limit: int, count_tokens) -> list[str]:
    """Cut `text` into chunks of at most `limit` tokens as the translator counts them (`count_tokens`:
    texts → counts), at clause, then word boundaries, then anywhere in an unbroken run. Joined, the
    chunks give back the text. Dense scripts (Chinese, Thai) and code reach a model's input limit in
    far fewer characters than Latin prose, so a character limit alone cannot prevent truncation."""
    done, queue = [], [text]
    while queue:
        chunk = queue.pop(0)
        count = count_tokens([chunk])[0]
        if count <= limit or len(chunk) <= 1:
            done.append(chunk)
            continue
        max_chars = max(1, min(len(chunk) - 1, int(len(chunk) * limit / count * 0.9)))
        queue[:0] = _bounded(chunk, max_chars)
    merged: list[str] = []  # a chunk of spaces alone has nothing to translate: it joins the one before
    for chunk in done:
        if merged and not chunk.strip():
            merged[-1] += chunk
        else:
            merged.append(chunk)
    return merged


def _protect(text: str) -> Piece:
    protected: list[str] = []

    def keep(match: re.Match) -> str:
        protected.append(match.group(0))
        return PLACEHOLDER.format(len(protected) - 1)

    masked = PROTECTED.sub(keep, text)
    if not LETTER.search(PLACEHOLDER_RE.sub("", masked)):
        return Piece(text)  # nothing left to translate: keep verbatim
    return Piece(masked, translate=True, protected=protected)


PLACEHOLDER_RE = re.compile(r"⟦(\d+)⟧")


def _merge_literals(pieces: list[Piece]) -> list[Piece]:
    merged: list[Piece] = []
    for piece in pieces:
        if not piece.translate and not piece.text:
            continue
        if merged and not piece.translate and not merged[-1].translate:
            merged[-1] = Piece(merged[-1].text + piece.text)
        else:
            merged.append(piece)
    return merged


def restore(piece: Piece, translation: str) -> tuple[str, bool]:
    """Put protected spans back into a translation; (text, every placeholder survived)."""
    found = {int(n) for n in PLACEHOLDER_RE.findall(translation)}
    text = PLACEHOLDER_RE.sub(
        lambda m: piece.protected[int(m.group(1))] if int(m.group(1)) < len(piece.protected) else "",
        translation,
    )
    return text, found >= set(range(len(piece.protected)))


def join_message(pieces: list[Piece], translations: list[str]) -> tuple[str, bool]:
    """Rebuild a message from its pieces and one translation per translatable piece."""
    out, intact = [], True
    queue = iter(translations)
    for piece in pieces:
        if piece.translate:
            text, ok = restore(piece, next(queue))
            out.append(text)
            intact &= ok
        else:
            out.append(piece.text)
    return "".join(out), intact
