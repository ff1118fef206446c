"""The one way lingualift opens its SQLite stores (translation memory, generated replies, review
decisions): WAL journal, so a kill loses at most the transaction in flight and a reader never
blocks the writer; the schema is created when missing."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def open_database(
    path: str | Path, schema: str, *, readonly: bool = False, threads: bool = False
) -> sqlite3.Connection:
    """`readonly`: another process's store, opened without creating or writing anything.
    `threads`: the connection is used from several threads (the caller serialises writes)."""
    path = Path(path)
    if readonly:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=not threads)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process in WAL mode
    db.executescript(schema)
    db.commit()
    return db
