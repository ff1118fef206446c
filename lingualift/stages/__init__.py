"""The stage registry: the only list of lingualift's stages, in pipeline and report order.

Each module here holds one stage's glue (its command, its report section, its part of
`lingualift run`) as a `STAGE` (`lingualift.stage.Stage`); the work itself lives in the library
modules they call. The CLI, the pipeline config and plan, the run's summary and `lingualift report`
are all built from this list. Adding a stage: one module here, its name below, and its test.
"""

from __future__ import annotations

import importlib
from functools import cache

from lingualift.stage import Stage

NAMES = (
    "check",
    "source",
    "generate",
    "translate",
    "review",
    "respond",
    "threads",
    "tokenizer",
    "train",
    "fidelity",
    "judge",
    "regression",
    "bench_mt",
    "harness",
    "benchmark",
    "merge",
    "gguf",
    "chat",
    "serve",
)


@cache
def registry() -> tuple[Stage, ...]:
    return tuple(importlib.import_module(f"{__name__}.{name}").STAGE for name in NAMES)


def pipeline_stages() -> tuple[Stage, ...]:
    return tuple(stage for stage in registry() if stage.pipeline is not None)
