"""Options of `lingualift generate`, declared once."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import ConfigDict, Field, model_validator

from lingualift.data_push import DataPush
from lingualift.language_id import LanguageCheck
from lingualift.models import ModelPlacement
from lingualift.stage import STEP_FOLDER, Link
from lingualift.teacher import Thinking


class GenerateConfig(ModelPlacement, Thinking, LanguageCheck, DataPush):
    model_config = ConfigDict(extra="forbid")

    docs: Annotated[str, Link("the source step's data")] = Field(
        description="Documents: a .txt/.md file or a folder of them, jsonl/csv/parquet, save_to_disk dir, "
        "or hub id (id:config: wikimedia/wikipedia:20231101.ig)"
    )
    lang: Annotated[str, Link("language")] = Field(
        description="Language of the documents and of the conversations to write"
    )
    out: Annotated[str, Link(STEP_FOLDER)] = Field(
        description="Output directory: DatasetDict (train, rejected), chat.jsonl, generate_report.json"
    )
    model: Optional[str] = Field(
        None, description="Local generator (hub id, directory, `demo`), or the model name at --base-url"
    )
    base_url: Optional[str] = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: Optional[str] = Field(
        None, description="Environment variable holding the endpoint's API key"
    )
    text_field: str = Field("text", description="Text column of tabular documents")
    tokenizer: Optional[str] = Field(
        None,
        description="Tokenizer that measures chunks (default: --model's when local, else 4 characters a token)",
    )
    chunk_tokens: int = Field(4096, gt=16, description="Tokens per chunk at most")
    min_doc_chars: int = Field(200, ge=0, description="Shorter documents (after cleaning) are skipped")
    boilerplate_docs: int = Field(3, ge=2, description="A line found in this many documents is boilerplate")
    doc_language_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A document identified as another language, or as the language below this confidence, is "
        "skipped (0: no check)",
    )
    pairs_per_chunk: int = Field(3, gt=0, le=20, description="Question-answer pairs asked for per chunk")
    max_new_tokens: int = Field(1024, gt=0, description="Reply length")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature (0: greedy)")
    batch_size: int = Field(4, gt=0, description="Chunks per batch (local model)")
    concurrency: int = Field(4, gt=0, description="Requests in flight (endpoint)")
    min_grounding: float = Field(
        0.5, ge=0, le=1, description="Share of an answer's words that must occur in its chunk"
    )
    include_context: bool = Field(False, description="Put the chunk in the user turn (reading comprehension)")
    system_prompt: Optional[str] = Field(None, description="System prompt of the written conversations")
    limit: Optional[int] = Field(
        None,
        gt=0,
        description="Only the first N documents (a hub dataset is streamed: dumps are not downloaded whole)",
    )
    trust_remote_code: bool = Field(False, description="Allow the dataset's or model's own code")

    @model_validator(mode="after")
    def _one_generator(self) -> GenerateConfig:
        if not self.model and not self.base_url:
            raise ValueError(
                "needs a teacher: --model / model (a local model or `demo`) or --base-url / base_url (an "
                "OpenAI-compatible endpoint, e.g. vllm serve on a GPU box)"
            )
        return self
