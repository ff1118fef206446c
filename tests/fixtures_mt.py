"""Fixtures over the tiny real MT models of tests/builders.py (see shared/TINY_MODELS.md).

Registered for every test through `pytest_plugins` in tests/conftest.py."""

from __future__ import annotations

import pytest

from tests.builders import (
    build_tiny_m2m,
    build_tiny_madlad,
    build_tiny_marian,
    build_tiny_mbart,
    build_tiny_nllb,
    build_tiny_seamless,
)


@pytest.fixture(scope="session")
def tiny_marian(tmp_path_factory):
    return build_tiny_marian(tmp_path_factory.mktemp("tiny-marian"))


@pytest.fixture(scope="session")
def tiny_m2m(tmp_path_factory):
    return build_tiny_m2m(tmp_path_factory.mktemp("tiny-m2m"))


@pytest.fixture(scope="session")
def tiny_nllb(tmp_path_factory):
    return build_tiny_nllb(tmp_path_factory.mktemp("tiny-nllb"))


@pytest.fixture(scope="session")
def tiny_mbart(tmp_path_factory):
    return build_tiny_mbart(tmp_path_factory.mktemp("tiny-mbart"))


@pytest.fixture(scope="session")
def tiny_madlad(tmp_path_factory):
    return build_tiny_madlad(tmp_path_factory.mktemp("tiny-madlad"))


@pytest.fixture(scope="session")
def tiny_seamless(tmp_path_factory):
    return build_tiny_seamless(tmp_path_factory.mktemp("tiny-seamless"))
