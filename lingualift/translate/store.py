"""SQLite translation memory: one row per unique (source text, src, tgt, translator).

A segment is looked up by its `pair` key (source text, src, tgt): any translator's successful
translation counts, so a different backend can finish a partly translated dataset.

WAL mode; every finished batch is committed in one transaction, so a kill loses at most the
batch in flight. The primary key makes a duplicate impossible; a failed segment is stored with
its error, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lingualift.database import open_database

SCHEMA = """
CREATE TABLE IF NOT EXISTS segments (
    key TEXT NOT NULL,
    source TEXT NOT NULL,
    src TEXT NOT NULL,
    tgt TEXT NOT NULL,
    translator TEXT NOT NULL,
    output TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    created REAL NOT NULL,
    PRIMARY KEY (key, translator)
);
CREATE TABLE IF NOT EXISTS pending (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    src TEXT NOT NULL,
    tgt TEXT NOT NULL,
    length INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_length ON pending (length);
"""


def segment_key(source: str, src: str, tgt: str) -> str:
    return hashlib.sha256("\x1f".join((src, tgt, source)).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Segment:
    key: str
    source: str
    src: str
    tgt: str


@dataclass(frozen=True)
class Result:
    output: str | None
    flags: list[str]
    status: str
    translator: str
    error: str | None = None


class TranslationStore:
    """One rank's store file. Other ranks' files are opened read-only for assembly."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.db = open_database(self.path, SCHEMA, readonly=readonly)

    def close(self) -> None:
        self.db.close()

    def add_pending(self, segments: Iterable[Segment]) -> None:
        """Queue segments that are not translated yet (idempotent)."""
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO pending (key, source, src, tgt, length) "
                "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS "
                "(SELECT 1 FROM segments WHERE key = ? AND status = 'ok')",
                ((s.key, s.source, s.src, s.tgt, len(s.source), s.key) for s in segments),
            )

    def pending_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM pending").fetchone()[0]

    def next_pending(self, limit: int) -> list[Segment]:
        """The next page of pending segments: one language pair at a time, shortest first."""
        rows = self.db.execute(
            "SELECT key, source, src, tgt FROM pending ORDER BY src, tgt, length, key LIMIT ?", (limit,)
        ).fetchall()
        return [Segment(*row) for row in rows]

    def commit_batch(self, results: Iterable[tuple[Segment, Result]]) -> None:
        """Store a finished batch and drop it from pending, in one transaction."""
        now = time.time()
        rows = list(results)
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO segments "
                "(key, source, src, tgt, translator, output, flags, status, error, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        s.key,
                        s.source,
                        s.src,
                        s.tgt,
                        r.translator,
                        r.output,
                        json.dumps(r.flags),
                        r.status,
                        r.error,
                        now,
                    )
                    for s, r in rows
                ),
            )
            self.db.executemany("DELETE FROM pending WHERE key = ?", ((s.key,) for s, _ in rows))

    def lookup(self, keys: list[str], *, prefer: str | None = None) -> dict[str, Result]:
        """The best stored result per key: ok before failed, `prefer`'s before others, oldest first."""
        found: dict[str, Result] = {}
        for start in range(0, len(keys), 900):  # SQLite's bound-parameter limit
            chunk = keys[start : start + 900]
            marks = ",".join("?" * len(chunk))
            for key, output, flags, status, translator, error in self.db.execute(
                f"SELECT key, output, flags, status, translator, error FROM segments WHERE key IN ({marks}) "
                "ORDER BY status = 'ok' DESC, translator = ? DESC, created, translator",
                (*chunk, prefer or ""),
            ):
                if key not in found:
                    found[key] = Result(output, json.loads(flags), status, translator, error)
        return found

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) FROM segments GROUP BY status").fetchall()
        return {status: count for status, count in rows}
