"""Review decisions in SQLite and how `review export` applies them to the dataset.

One row per (split, row index): accept, edit (with the corrected text) or reject (with a reason),
plus a hash of the row's source text when the decision was made, so decisions are never applied
to a different dataset. WAL mode; every decision is its own transaction, so killing the server
loses nothing that was answered.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from lingualift.database import open_database
from lingualift.errors import DataError
from lingualift.reports import StageReport

ACTIONS = ("accept", "edit", "reject")
SCHEMA = """CREATE TABLE IF NOT EXISTS decisions (
    split TEXT NOT NULL, row INTEGER NOT NULL, source_hash TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('accept', 'edit', 'reject')),
    text TEXT, reason TEXT, decided REAL NOT NULL,
    PRIMARY KEY (split, row))"""


class ReviewConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    db: Optional[str] = Field(
        None, description="Decisions database (default: DATA.review.sqlite beside the dataset)"
    )
    text_field: str = Field("text", description="Column holding the translation")
    source_field: str = Field("source_text", description="Column holding the source text")
    flags_field: str = Field("qe_flags", description="Column holding the quality flags")
    host: str = Field("127.0.0.1", description="Address to listen on (review: the page has no login)")
    port: int = Field(8765, ge=0, le=65535, description="Port (0: any free port)")
    page_size: int = Field(50, gt=0, le=1000, description="Rows per page")


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    split: str
    row: int = Field(ge=0)
    action: Literal["accept", "edit", "reject", "clear"]
    text: Optional[str] = None
    reason: Optional[str] = None


def source_hash(text: str | None) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()[:16]


def default_db(data: str) -> Path:
    path = Path(data.rstrip("/"))
    return path.with_name(path.name + ".review.sqlite")


class DecisionStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = open_database(
            self.path, SCHEMA, threads=True
        )  # the page's requests come from server threads
        self.lock = threading.Lock()

    def record(self, decision: Decision, source: str | None) -> None:
        with self.lock, self.db:
            if decision.action == "clear":
                self.db.execute(
                    "DELETE FROM decisions WHERE split = ? AND row = ?", (decision.split, decision.row)
                )
                return
            self.db.execute(
                "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    decision.split,
                    decision.row,
                    source_hash(source),
                    decision.action,
                    decision.text if decision.action == "edit" else None,
                    decision.reason if decision.action == "reject" else None,
                    time.time(),
                ),
            )

    def all(self) -> dict[tuple[str, int], dict]:
        with self.lock:
            rows = self.db.execute(
                "SELECT split, row, source_hash, action, text, reason FROM decisions"
            ).fetchall()
        return {
            (s, r): {"source_hash": h, "action": a, "text": t, "reason": why} for s, r, h, a, t, why in rows
        }

    def close(self) -> None:
        self.db.close()


PAIR_SEPARATOR = "\n---\n"  # between the question and the answer of a pair, as the page edits them


def review_mode(columns: list[str], config: ReviewConfig) -> str:
    """translations (a text beside its source), or pairs (conversations: generate's question-answer
    pairs, the last question and answer of each row edited, its `context` shown beside)."""
    return "pairs" if "messages" in columns and config.text_field not in columns else "translations"


def _last(messages: list[dict], role: str) -> int:
    return max((i for i, m in enumerate(messages) if m.get("role") == role), default=-1)


def row_view(row: dict, mode: str, config: ReviewConfig) -> tuple[str, str]:
    """(what is shown beside, what is reviewed) of a row: a pair as `question\n---\nanswer`."""
    if mode == "translations":
        return row[config.source_field], row[config.text_field]
    messages = row["messages"] or []
    question, answer = _last(messages, "user"), _last(messages, "assistant")
    text = f"{messages[question]['content'] if question >= 0 else ''}{PAIR_SEPARATOR}"
    text += messages[answer]["content"] if answer >= 0 else ""
    return row.get("context") or (messages[question]["content"] if question >= 0 else ""), text


def split_pair(text: str) -> tuple[str, str] | None:
    """(question, answer) of an edited pair; None unless one `---` line parts two non-empty halves."""
    parts = (text or "").replace("\r\n", "\n").split(PAIR_SEPARATOR)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return parts[0].strip(), parts[1].strip()


def edited_row(row: dict, mode: str, config: ReviewConfig, text: str) -> dict:
    if mode == "translations":
        return {**row, config.text_field: text}
    question, answer = split_pair(text)
    messages = [dict(m) for m in row["messages"]]
    messages[_last(messages, "user")]["content"] = question
    messages[_last(messages, "assistant")]["content"] = answer
    return {**row, "messages": messages}


def load_review_data(data: str, config: ReviewConfig):
    from lingualift.io import load_source, require_columns

    dataset = load_source(data)
    if "rejected" in dataset and review_mode(dataset["rejected"].column_names, config) != review_mode(
        next(iter(dataset.values())).column_names, config
    ):  # generate's and respond's own rejected rows are not under review
        dataset = type(dataset)({k: v for k, v in dataset.items() if k != "rejected"})
    for name, part in dataset.items():
        needed = (
            ["messages"]
            if review_mode(part.column_names, config) == "pairs"
            else [config.text_field, config.source_field]
        )
        require_columns(part, needed, where=f"{data} split {name}")
    return dataset


class ReviewReport(StageReport):
    """review_report.json: how many rows each decision covered when `review export` applied them."""

    data: Optional[str] = None
    decisions: Optional[str] = None  # the SQLite file of decisions
    accepted: int = 0
    edited: int = 0
    rejected: int = 0  # moved to the `rejected` split with their reason
    unreviewed: int = 0  # kept as translated


def apply_decisions(data: str, out: str, config: ReviewConfig, *, echo=print) -> ReviewReport:
    """Write the reviewed dataset: edited text replaces the translation, rejected rows move to a
    `rejected` split (with `source_split`, `source_row` and `reject_reason`), every kept row gets a
    `review` column (accepted, edited, unreviewed)."""
    import datasets

    from lingualift.io import dataset_from_rows, save_dataset

    db = Path(config.db) if config.db else default_db(data)
    if not db.exists():
        raise DataError(f"no review decisions at {db} — run `lingualift review {data}` first (or pass --db)")
    dataset = load_review_data(data, config)
    mode = review_mode(next(iter(dataset.values())).column_names, config)
    if "rejected" in dataset:
        raise DataError(f"{data} already has a `rejected` split: export into a dataset without one")
    store = DecisionStore(db)
    decisions = store.all()
    store.close()
    unknown = [f"{s}[{r}]" for s, r in decisions if s not in dataset or r >= len(dataset[s])]
    if unknown:
        raise DataError(
            f"{db}: decisions for rows this dataset does not have ({', '.join(unknown[:5])}): "
            "it was made for another dataset"
        )
    counts = {"accepted": 0, "edited": 0, "rejected": 0, "unreviewed": 0}
    kept, rejected = {}, []
    for name, part in dataset.items():
        rows = []
        for index, row in enumerate(part):
            decision = decisions.get((name, index))
            shown, _ = row_view(row, mode, config)
            if decision and decision["source_hash"] != source_hash(shown):
                what = config.source_field if mode == "translations" else "context"
                raise DataError(
                    f"{data} split {name} row {index}: its {what} changed since the "
                    f"review decision in {db} — the decisions belong to another version of the data"
                )
            action = decision["action"] if decision else None
            if action == "reject":
                counts["rejected"] += 1
                rejected.append(
                    {
                        **row,
                        "source_split": name,
                        "source_row": index,
                        "reject_reason": decision["reason"] or "",
                    }
                )
                continue
            if action == "edit":
                row = edited_row(row, mode, config, decision["text"])
            status = {"accept": "accepted", "edit": "edited", None: "unreviewed"}[action]
            counts[status] += 1
            rows.append({**row, "review": status})
        features = part.features.copy()
        features["review"] = datasets.Value("string")
        kept[name] = dataset_from_rows(rows, features)
    first = next(iter(dataset.values()))
    rejected_features = first.features.copy()
    rejected_features.update(
        {
            "source_split": datasets.Value("string"),
            "source_row": datasets.Value("int64"),
            "reject_reason": datasets.Value("string"),
        }
    )
    kept["rejected"] = dataset_from_rows(rejected, rejected_features)
    save_dataset(datasets.DatasetDict(kept), out)
    report = ReviewReport(data=data, decisions=str(db), **counts)
    report.write(Path(out) / "review_report.json")
    echo(
        f"{out}: {counts['accepted']} accepted, {counts['edited']} edited, {counts['unreviewed']} unreviewed kept; "
        f"{counts['rejected']} rejected → split `rejected`"
    )
    return report
