"""Translate stage: source rows → translated rows, exact-once, with quality flags."""
