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
