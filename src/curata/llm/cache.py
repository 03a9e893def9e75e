"""Every completion in SQLite (WAL), keyed by the request hash: a rerun sends nothing, and a run
killed half-way resumes with the answers it already paid for. Requests themselves and API keys are
not stored: only the key hash, the model name, the answer text and token counts."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from curata.llm.request import Completion

SCHEMA = """
CREATE TABLE IF NOT EXISTS completions (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


class CompletionCache:
    """A thread-safe SQLite cache; `path=None` keeps it in memory (nothing written)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(str(path) if path else ":memory:", check_same_thread=False)
        if path is not None:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute(SCHEMA)
        self.conn.commit()

    def get(self, key: str) -> Completion | None:
        with self.lock:
            row = self.conn.execute(
                "SELECT text, prompt_tokens, completion_tokens FROM completions WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return Completion(row[0], int(row[1]), int(row[2]), cached=True)

    def put(self, key: str, model: str, completion: Completion) -> None:
        with self.lock:
            self.conn.execute(
                "INSERT OR REPLACE INTO completions VALUES (?, ?, ?, ?, ?, ?)",
                (
                    key,
                    model,
                    completion.text,
                    completion.prompt_tokens,
                    completion.completion_tokens,
                    time.time(),
                ),
            )
            self.conn.commit()

    def __len__(self) -> int:
        with self.lock:
            return int(self.conn.execute("SELECT COUNT(*) FROM completions").fetchone()[0])

    def close(self) -> None:
        with self.lock:
            self.conn.close()
