"""Typed errors. The CLI prints `str(error)` as one line and exits 2; tracebacks only with --debug."""

from __future__ import annotations


class LinguaLiftError(Exception):
    """Base class: something the user can fix, explained in one line."""


class ConfigError(LinguaLiftError):
    """An option or config value is invalid."""


class LanguageError(LinguaLiftError):
    """A language code is unknown, or not supported by the chosen backend."""


class DataError(LinguaLiftError):
    """A dataset is missing, malformed, empty, or lacks a required column."""


class ModelError(LinguaLiftError):
    """A model cannot be located, converted or loaded."""


def config_error(error, *, where: str = "", prefix: str = "") -> ConfigError:
    """One ConfigError listing every problem of a pydantic ValidationError with its key path
    (`prefix` puts a section in front, e.g. `train.sft` → `train.sft.lora_r: ...`)."""
    problems = "; ".join(
        f"{'.'.join([prefix] * bool(prefix) + [str(p) for p in e['loc']]) or 'options'}: {_message(e['msg'])}"
        + (f" (got {e['input']!r})" if e["type"] == "literal_error" else "")
        for e in error.errors()
    )
    return ConfigError(f"{where}: {problems}" if where else problems)


def _message(text: str) -> str:
    """pydantic's message with a lower-case start and without its "Value error, " (names keep their case)."""
    text = text.removeprefix("Value error, ")
    return text[:1].lower() + text[1:]


def error_line(error: Exception) -> str:
    """How an error is shown to the user: `error: ...` on one line."""
    return "error: " + " ".join(str(error).split())
