"""Options of `lingualift respond`, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import ConfigDict, Field, model_validator

from lingualift.data_push import DataPush
from lingualift.language_id import LanguageCheck
from lingualift.models import ModelPlacement
from lingualift.stage import STEP_FOLDER, Link
from lingualift.teacher import Thinking


class RespondConfig(ModelPlacement, Thinking, LanguageCheck, DataPush):
    model_config = ConfigDict(extra="forbid")

    data: Annotated[str, Link("the translate step's output")] = Field(
        description="Prompts: conversations in any format threads reads (messages, conversations, "
        "alpaca, dolly) or a `prompt` column; a saved dataset, files or a hub id"
    )
    lang: Annotated[str, Link("language")] = Field(description="Language the teacher answers in")
    out: Annotated[str, Link(STEP_FOLDER)] = Field(
        description="Output directory: DatasetDict (train, rejected) and respond_report.json"
    )
    model: Optional[str] = Field(
        None, description="Local teacher (hub id, directory, `demo`), or the model name at --base-url"
    )
    base_url: Optional[str] = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: Optional[str] = Field(
        None, description="Environment variable holding the endpoint's API key"
    )
    concurrency: int = Field(8, gt=0, le=256, description="Requests in flight (endpoint)")
    batch_size: int = Field(8, gt=0, description="Prompts per batch (local teacher)")
    max_new_tokens: int = Field(512, gt=0, description="Longest answer; a longer one is rejected as cut_off")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy)")
    system_prompt: Optional[str] = Field(
        None, description="What the teacher is told (default: answer in the language, in that language)"
    )
    split: Optional[str] = Field(None, description="Only this split (default: the first)")
    limit: Optional[int] = Field(None, gt=0, description="Only the first N conversations")
    max_requests: Optional[int] = Field(
        None, gt=0, description="Refuse to start when the run may need more requests than this"
    )
    price_per_million_tokens: Optional[float] = Field(
        None, ge=0, description="Teacher price per million tokens, for a cost estimate before the run"
    )
    min_chars: int = Field(2, ge=0, description="Shorter answers are rejected (too_short)")
    max_chars: Optional[int] = Field(None, gt=0, description="Longer answers are rejected (too_long)")
    boilerplate_file: Optional[str] = Field(
        None, description="More phrases that reject an answer, one per line (case-insensitive)"
    )
    prompt_confidence: Optional[float] = Field(
        None,
        ge=0,
        le=1,
        description="Native prompts: keep those identified as the language with at least this confidence "
        "(tagengo: 0.8)",
    )
    max_tokens: Optional[int] = Field(
        None,
        gt=0,
        description="Prompt + answer at most this many tokens (tagengo: 512; 4 characters a token)",
    )
    max_conversations: Optional[int] = Field(
        None, gt=0, description="At most this many prompts are answered (tagengo: 25,000 per language)"
    )
    pairs_out: Optional[str] = Field(
        None,
        description="Also write DPO/ORPO pairs here: chosen = the teacher's answer, rejected = the "
        "input's own answer where it is not in the language",
    )
    rejected_from: Optional[str] = Field(
        None,
        description="With --pairs-out: rejected = this local model's own reply (e.g. the base model being "
        "taught) where it is not in the language, instead of the input's answer",
    )
    trust_remote_code: bool = Field(False, description="Allow the dataset's or model's own code")

    @model_validator(mode="after")
    def _one_teacher(self) -> RespondConfig:
        if not self.model and not self.base_url:
            raise ValueError(
                "needs a teacher: --model / model (a local model or `demo`) or --base-url / base_url (an "
                "OpenAI-compatible endpoint, e.g. vllm serve on a GPU box)"
            )
        return self
