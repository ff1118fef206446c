"""Shared fixtures. Tests never touch the network: hub access is switched off for the session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory):
    """A lingualift cache shared by the session: the demo model is converted into it once."""
    return tmp_path_factory.mktemp("lingualift-cache")


@pytest.fixture()
def use_demo_cache(demo_cache, monkeypatch):
    monkeypatch.setenv("LINGUALIFT_CACHE", str(demo_cache))
    return demo_cache


@pytest.fixture(scope="session")
def demo_model_path(demo_cache):
    """Path of the converted demo model (converts on first use, ~20 s on a 2-core CPU)."""
    previous = os.environ.get("LINGUALIFT_CACHE")
    os.environ["LINGUALIFT_CACHE"] = str(demo_cache)
    try:
        from lingualift.demo.model import demo_model_dir

        return demo_model_dir()
    finally:
        if previous is None:
            os.environ.pop("LINGUALIFT_CACHE", None)
        else:
            os.environ["LINGUALIFT_CACHE"] = previous
