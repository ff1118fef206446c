"""The Translator protocol: batch in, batch out, keyword-only options (like CTranslate2's)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lingualift.languages import Language


@dataclass
class Translation:
    text: str
    flags: list[str] = field(default_factory=list)  # backend-level flags (`commentary`)


class Translator(Protocol):
    name: str  # "backend:model", recorded with every translation
    max_input_tokens: int  # segments are cut below this
    max_length: int  # hard limit on input + output tokens of the model

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def translate(
        self,
        texts: list[str],
        src: Language,
        tgt: Language,
        *,
        max_new_tokens: int | Sequence[int],  # one cap for the batch, or one per text
        strict: bool = False,  # retry mode: discourage repetition loops
    ) -> list[Translation]: ...


def row_caps(max_new_tokens: int | Sequence[int], rows: int) -> list[int]:
    """Each row's cap on generated tokens: the caps given per row, or the one cap for every row."""
    if isinstance(max_new_tokens, int):
        return [max_new_tokens] * rows
    if len(max_new_tokens) != rows:
        raise ValueError(f"{len(max_new_tokens)} token caps for {rows} texts")
    return list(max_new_tokens)
