"""Options of `lingualift eval fidelity` (and the pipeline's `evaluate.fidelity:` section), declared once."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import ConfigDict, Field

from lingualift.language_id import LanguageCheck
from lingualift.models import ModelPlacement
from lingualift.stage import STEP_FOLDER, Link

# the fidelity method's thresholds (evaluate.fidelity), here so the command's help reads them without
# loading the method: lines under MIN_WORDS words (MIN_CHARS_DENSE characters in scripts written
# without spaces) are not judged; a language label counts above CONFIDENCE
MIN_WORDS = 5
MIN_CHARS_DENSE = 10
CONFIDENCE = 0.3


class FidelityConfig(ModelPlacement, LanguageCheck):
    model_config = ConfigDict(extra="forbid")

    model: Annotated[str, Link("the last training step's output")] = Field(
        description="Chat model to evaluate: hub id, local directory, or `demo`"
    )
    lang: Annotated[str, Link("language")] = Field(
        description="Language the replies should be in; several (nl,de): each measured on the prompts whose `lang` it is"
    )
    prompts: Annotated[str, Link("the held-out conversations")] = Field(
        description="Prompts: .txt (one per line), a threads dataset, or data with a prompt/text column"
    )
    adapter: Annotated[Optional[str], Link("the last training step's output")] = Field(
        None, description="LoRA adapter on top of --model (lingualift train's output)"
    )
    baseline: Annotated[Optional[str], Link("model")] = Field(
        None, description="A second model measured side by side (without the adapter)"
    )
    limit: Optional[int] = Field(50, gt=0, description="Only the first N prompts")
    system: Optional[str] = Field(
        None,
        description="System prompt for every request (default: none); `{language}` becomes the English name of "
        "the language measured",
    )
    max_new_tokens: int = Field(128, gt=0, le=4096, description="Reply length limit")
    batch_size: int = Field(8, gt=0, description="Prompts generated together")
    out: Annotated[Optional[str], Link(STEP_FOLDER)] = Field(
        None, description="Write fidelity.json (with every reply) here"
    )
