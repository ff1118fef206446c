"""Options of `lingualift translate` (and the pipeline's `translate:` section), declared once."""

from __future__ import annotations

import os
from typing import Annotated, Literal, Optional

from pydantic import ConfigDict, Field, field_validator, model_validator

from lingualift.data_push import DataPush
from lingualift.language_id import LanguageCheck
from lingualift.stage import STEP_FOLDER, Link

Format = Literal[
    "auto", "text", "alpaca", "dolly", "openai", "sharegpt", "preference", "prompts", "multiple_choice"
]
Role = Literal["system", "user", "assistant"]
Backend = Literal["opus", "mbart", "madlad", "m2m", "nllb", "seamless", "tower", "llm", "openai"]
SEQ2SEQ = ("opus", "mbart", "madlad", "m2m", "nllb", "seamless")
CT2ComputeType = Literal[
    "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float32", "float16", "bfloat16"
]  # CTranslate2's quantization types (its "auto" and "default" would hide which one ran)
CT2_BACKENDS = (*SEQ2SEQ, "tower", "llm")  # ctranslate2.Translator for seq2seq, Generator for chat LMs


class TranslateConfig(LanguageCheck, DataPush):
    model_config = ConfigDict(extra="forbid")

    source: Annotated[str, Link("the source step's data")] = Field(
        description="Dataset: hub id (id:config for a subset), save_to_disk dir, or jsonl/csv/parquet files"
    )
    to: Annotated[str, Link("language")] = Field(description="Target language (code or English name)")
    out: Annotated[str | None, Link(STEP_FOLDER)] = Field(
        None, description="Output directory (save_to_disk DatasetDict)"
    )
    backend: Backend | None = Field(
        None, description="Translator family; default: nllb, else madlad, else m2m"
    )
    model: str | None = Field(None, description="Model: hub id, local directory, or `demo`")
    source_lang: Annotated[str | None, Link("source_lang")] = Field(
        None, description="Source language of every row (else each row's --lang-field)"
    )
    lang_field: str = Field(
        "lang", description="Column with each row's language (used when --from is not given)"
    )
    text_field: Annotated[str, Link("text_field")] = Field("text", description="Column to translate")
    fields: Optional[list[str]] = Field(
        None,
        description="Columns to translate, comma-separated: strings, lists of strings (a benchmark's "
        "choices) or of turns, each translated on its own; `column.key` for a dict column (choices.text) "
        "(default: from the format)",
    )
    format: Format = Field(
        "auto",
        description="Which columns hold the text: auto (the --text-field column, else detected from the "
        "columns), or a named format; multiple_choice: a benchmark's question, passage and choices "
        "(TruthfulQA, ARC, MMLU, HellaSwag, Belebele), the label untouched",
    )
    roles: Optional[list[Role]] = Field(
        None,
        description="Translate only these roles' turns and fields, comma-separated (e.g. user: the "
        "prompts; answers kept in the source language)",
    )
    split: str | None = Field(None, description="Only this split")
    limit: Annotated[int | None, Link("limit (applied by the source step)")] = Field(
        None, gt=0, description="Only the first N rows of each split (a hub dataset is streamed)"
    )
    batch_tokens: int = Field(4096, gt=0, description="Token budget per batch (padded input tokens)")
    max_new_tokens: int | None = Field(None, gt=0, description="Upper bound on generated tokens per segment")
    segment_chars: int = Field(500, ge=50, description="Sentences longer than this are cut at clauses/words")
    num_beams: int = Field(1, ge=1, le=16, description="Beam size for seq2seq models (1 = greedy)")
    device: str | None = Field(None, description="cpu, cuda, cuda:1 ...; default: cuda when available")
    quant4: bool = Field(False, description="Load the model in 4-bit (bitsandbytes; on the CPU too, slowly)")
    quant8: bool = Field(False, description="Load the model in 8-bit (bitsandbytes, CUDA only)")
    ct2: bool = Field(
        False, description="Use CTranslate2 (seq2seq families, llm and tower; converted once, cached)"
    )
    ct2_compute_type: CT2ComputeType | None = Field(
        None,
        description="CTranslate2 compute type; default int8 on CPU, int8_bfloat16 or int8_float16 on a GPU",
    )
    base_url: str | None = Field(
        None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1"
    )
    api_key_env: str | None = Field(None, description="Environment variable holding the endpoint's API key")
    concurrency: int = Field(8, ge=1, le=256, description="openai: requests in flight")
    prompt_template: str | None = Field(None, description="LLM prompt with {src}, {tgt}, {text}")
    chat_template: str | None = Field(
        None,
        description="llm: for a model without one (a base checkpoint): chatml, llama3, gemma, or a Jinja file",
    )
    only_ids: Annotated[str | None, Link("the source threads' message ids")] = Field(
        None, description="JSON file of message ids to translate (threads' thread_message_ids.json)"
    )
    id_field: str = Field("message_id", description="Column with the id matched against --only-ids")
    shard: str | None = Field(
        None, description="i/n: this process translates shard i of n (default RANK/WORLD_SIZE)"
    )
    work_dir: Annotated[str | None, Link(STEP_FOLDER)] = Field(
        None, description="Translation store directory; default OUT.work"
    )
    trust_remote_code: bool = Field(False, description="Allow model code from the hub")

    @field_validator("fields", "roles", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            value = [part.strip() for item in value for part in str(item).split(",") if part.strip()]
            return value or None
        return value

    @field_validator("shard")
    @classmethod
    def _shard_form(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            index, count = (int(v) for v in value.split("/"))
        except ValueError:
            raise ValueError("use i/n, e.g. 0/2") from None
        if not 0 <= index < count:
            raise ValueError(f"shard index must be in 0..{count - 1}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TranslateConfig:
        if self.quant4 and self.quant8:
            raise ValueError("quant4 and quant8 exclude each other")
        if self.ct2 and self.backend not in (None, *CT2_BACKENDS):
            raise ValueError(f"ct2 works with the {', '.join(CT2_BACKENDS)} backends, not {self.backend}")
        if self.ct2 and (self.quant4 or self.quant8):
            raise ValueError(
                "ct2 quantizes on its own (int8 by default, see ct2_compute_type): drop quant4/quant8"
            )
        if self.backend in ("llm", "openai") and not self.model:
            raise ValueError(f"backend {self.backend} needs --model")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("backend openai needs --base-url")
        return self

    def shard_position(self) -> tuple[int, int]:
        """(rank, world size) from --shard, else torchrun/accelerate's RANK and WORLD_SIZE."""
        if self.shard:
            index, count = self.shard.split("/")
            return int(index), int(count)
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
