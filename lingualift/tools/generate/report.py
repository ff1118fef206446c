"""generate_report.json: documents in, question-answer pairs out, every rejected pair by reason."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from lingualift.reports import Number, StageReport


class PairCounts(BaseModel):
    accepted: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)


class GenerateReport(StageReport):
    generator: Optional[str] = None  # "local|MODEL" or "BASE_URL|MODEL"
    lang: Optional[str] = None
    replies: dict[str, int] = Field(
        default_factory=dict
    )  # per reply outcome: parsed, repaired, labelled, ...
    pairs: PairCounts = Field(default_factory=PairCounts)
    documents: Optional[int] = None
    documents_kept: Optional[int] = None
    cleaning: dict[str, Any] = Field(default_factory=dict)  # lines_removed, skipped (by reason)
    chunks: Optional[int] = None
    generated_this_run: Optional[int] = None
    reused_from_store: Optional[int] = None
    chunk_tokens: Optional[int] = None
    token_measure: Optional[str] = None  # tokenizer, or characters / 4 for an endpoint
    language_check: Optional[str] = None  # the identifier that checked the answers, or why it could not
    seconds: Optional[Number] = None
