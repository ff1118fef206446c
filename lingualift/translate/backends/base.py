"""The Translator protocol: batch in, batch out, keyword-only options (like CTranslate2's)."""

from __future__ import annotations

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
        max_new_tokens: int,
        strict: bool = False,  # retry mode: discourage repetition loops
    ) -> list[Translation]: ...
