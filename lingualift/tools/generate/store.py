"""Replies as they arrive: one row per (chunk, generator settings), so a re-run resumes and retries
only what failed."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from lingualift.database import open_database


class ReplyStore:
    """SQLite (WAL): one row per (chunk, generator settings); a reply is committed as it arrives."""

    SCHEMA = """CREATE TABLE IF NOT EXISTS replies (
        chunk_key TEXT NOT NULL, generator TEXT NOT NULL, reply TEXT, error TEXT, created REAL NOT NULL,
        PRIMARY KEY (chunk_key, generator))"""

    def __init__(self, path: Path):
        self.db = open_database(path, self.SCHEMA)

    def done(self, generator: str) -> dict[str, tuple[str | None, str | None]]:
        rows = self.db.execute(
            "SELECT chunk_key, reply, error FROM replies WHERE generator = ?", (generator,)
        )
        return {key: (reply, error) for key, reply, error in rows}

    def save(self, chunk_key: str, generator: str, reply: str | None, error: str | None) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?)",
                (chunk_key, generator, reply, error, time.time()),
            )

    def close(self) -> None:
        self.db.close()


def chunk_key(chunk: str) -> str:
    return hashlib.sha256(chunk.encode("utf-8")).hexdigest()
