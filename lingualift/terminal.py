"""What the terminal shows: the plan, a line per stage, our own progress bars and result lines.
Other libraries' progress bars ("Loading weights", dataset saving, GGUF de-quantizing), their log
lines and deprecation warnings appear only with `--verbose` (or `--debug`).

Libraries read their switches at import time (tqdm's TQDM_* defaults, datasets' and transformers'
variables), so they are set in the environment before those imports, which also covers the
processes we start (accelerate launch, llama.cpp's converter); a library already imported is told
through its own API. lingualift's own bars pass `disable=` explicitly, which TQDM_DISABLE does not
override.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

# variable: (quiet value, verbose value)
LIBRARY_SWITCHES = {
    "LINGUALIFT_QUIET": ("1", "0"),  # read by our own code in this process and the ones it starts
    "TQDM_DISABLE": ("1", "0"),
    "HF_DATASETS_DISABLE_PROGRESS_BARS": ("1", "0"),
    "HF_HUB_DISABLE_PROGRESS_BARS": ("1", "0"),
    "TRANSFORMERS_VERBOSITY": ("error", "warning"),
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": ("1", "0"),
}
LIBRARY_LOGGERS = (
    "transformers",
    "datasets",
    "accelerate",
    "peft",
    "trl",
    "huggingface_hub",
    "lm_eval",
    "sentencex",
)
# the switches lingualift set, so that a process we start (which inherits them) may change them again
SET_BY_US = "LINGUALIFT_SET_SWITCHES"


def quiet() -> bool:
    """Whether other libraries' output is silenced (a `lingualift` command without --verbose)."""
    return os.environ.get("LINGUALIFT_QUIET") == "1"


def configure(*, verbose: bool) -> None:
    """Quiet other libraries (the default) or let them speak (`--verbose`). A switch the user set in
    the environment is left as it is."""
    ours = set(filter(None, os.environ.get(SET_BY_US, "").split(",")))
    for name, (quiet, loud) in LIBRARY_SWITCHES.items():
        if name in os.environ and name not in ours:
            continue
        os.environ[name] = loud if verbose else quiet
        ours.add(name)
    os.environ[SET_BY_US] = ",".join(sorted(ours))
    level = logging.WARNING if verbose else logging.ERROR
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity(level)
        (transformers_logging.enable_progress_bar if verbose else transformers_logging.disable_progress_bar)()
    if "datasets" in sys.modules:
        import datasets

        (datasets.enable_progress_bars if verbose else datasets.disable_progress_bars)()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub import utils as hub_utils

        (hub_utils.enable_progress_bars if verbose else hub_utils.disable_progress_bars)()
    if not verbose:
        for category in (FutureWarning, DeprecationWarning, PendingDeprecationWarning):
            warnings.filterwarnings("ignore", category=category)
        warnings.filterwarnings("ignore", category=UserWarning, module=r"^(?!lingualift)")
