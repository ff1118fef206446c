"""respond_report.json: what the teacher answered and why the rest was rejected."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from lingualift.reports import Number, StageReport


class RespondReport(StageReport):
    teacher: Optional[str] = None  # "local|MODEL" or "BASE_URL|MODEL"
    settings: dict[str, Any] = Field(default_factory=dict)  # max_new_tokens, temperature
    lang: Optional[str] = None
    rows: int = 0
    accepted: int = 0  # conversations in `train`
    rejected: int = 0  # conversations in `rejected`, each with its reason
    rejected_by_reason: dict[str, int] = Field(default_factory=dict)
    accepted_turns: Optional[int] = None
    pairs: Optional[int] = None  # with --pairs-out
    requests: dict[str, int] = Field(default_factory=dict)  # this_run, answered, failed, reused_from_store
    estimate: dict[str, Number] = Field(
        default_factory=dict
    )  # requests_at_most, tokens_at_most, cost_at_most
    language_check: Optional[str] = None  # the identifier, or why the language filters were skipped
    reasoning_removed: int = 0  # answers a thinking teacher's <think> block was taken out of
    answering_seconds: Optional[Number] = None
    seconds: Optional[Number] = None
