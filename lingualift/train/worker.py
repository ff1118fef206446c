"""What each process `accelerate launch` starts runs: `python -m lingualift.train.worker CONFIG.json`
trains the stored TrainConfig (its own module, so that launch.py and run.py do not import each other)."""

from __future__ import annotations

import sys
from pathlib import Path

from lingualift.errors import LinguaLiftError, error_line
from lingualift.train.config import TrainConfig


def main(argv: list[str]) -> int:
    from lingualift.train.run import run_training

    try:
        run_training(TrainConfig.model_validate_json(Path(argv[0]).read_text()))
    except LinguaLiftError as error:
        print(error_line(error), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
