"""Options of `lingualift eval fidelity` (and the pipeline's `evaluate.fidelity:` section), declared once."""

from __future__ import annotations

from typing import Optional

from pydantic import ConfigDict, Field

from lingualift.models import ModelPlacement


class FidelityConfig(ModelPlacement):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(description="Chat model to evaluate: hub id, local directory, or `demo`")
    lang: str = Field(
        description="Language the replies should be in; several (nl,de): each measured on the prompts whose `lang` it is"
    )
    prompts: str = Field(
        description="Prompts: .txt (one per line), a threads dataset, or data with a prompt/text column"
    )
    adapter: Optional[str] = Field(
        None, description="LoRA adapter on top of --model (lingualift train's output)"
    )
    baseline: Optional[str] = Field(
        None, description="A second model measured side by side (without the adapter)"
    )
    limit: Optional[int] = Field(50, gt=0, description="Only the first N prompts")
    system: Optional[str] = Field(
        None, description="System prompt for every request (default: none); `{language}` becomes the English name of "
        "the language measured")  # fmt: skip
    max_new_tokens: int = Field(128, gt=0, le=4096, description="Reply length limit")
    batch_size: int = Field(8, gt=0, description="Prompts generated together")
    out: Optional[str] = Field(None, description="Write fidelity.json (with every reply) here")
