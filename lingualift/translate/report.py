"""translate_report.json: what `translate_dataset` did (rank 0 writes it after assembling)."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from lingualift.reports import Number, StageReport


class TranslateReport(StageReport):
    rank: int = 0
    world_size: int = 1
    backend: Optional[str] = None
    model: Optional[str] = None
    target: Optional[str] = None
    language_check: Optional[str] = None  # the identifier of the wrong_language flag, or why it was skipped
    unique_segments: Optional[int] = None
    reused_from_store: Optional[int] = None
    translated_segments: Optional[int] = None
    failed_segments: Optional[int] = None
    failures_by_reason: dict[str, int] = Field(default_factory=dict)
    salvaged_from_repetition: int = 0
    retried_for_repetition: int = 0
    still_looping_after_retry: int = 0
    cut_by_tokens: int = 0
    translation_seconds: Optional[Number] = None
    retry_seconds: Optional[Number] = None
    tokens_per_second: Optional[Number] = None
    segments_per_second: Optional[Number] = None
    # written by rank 0 once the dataset is assembled
    format: Optional[str] = None
    fields: Optional[list[str]] = None
    roles: Optional[list[str]] = None
    rows: Optional[int] = None
    rows_per_split: dict[str, int] = Field(default_factory=dict)
    rows_by_outcome: dict[str, int] = Field(default_factory=dict)  # translated, flagged, failed, not_selected
    rows_by_flag: dict[str, int] = Field(default_factory=dict)  # qe flag -> rows carrying it
    strings_by_field: Optional[dict[str, dict[str, int]]] = None  # fields layouts: per field, per outcome
    turns_by_outcome: Optional[dict[str, int]] = None
    flagged: Optional[int] = None  # the pipeline summary's, from earlier versions
    seconds: Optional[Number] = None
    rows_per_second: Optional[Number] = None
    source: Optional[str] = None
    out: Optional[str] = None
