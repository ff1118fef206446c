"""lingualift: teach an open chat LLM a new language."""

__version__ = "0.1.0"
