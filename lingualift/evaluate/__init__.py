"""Evaluate: MT benchmark with signatures, language fidelity of a chat model."""
