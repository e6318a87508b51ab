"""A content-hash disk cache of LLM answers, shared by every run and sweep job under one outputs dir.

SQLite in WAL mode: several processes (sweep jobs) may read and write at once.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    created REAL NOT NULL
)
"""


def request_key(payload: dict[str, Any]) -> str:
    """The content hash of everything that decides a call's answer."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class CallCache:
    """Get and put answers by request key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=60, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored answer, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT model, text, prompt_tokens, completion_tokens, cost_usd FROM calls WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        return dict(
            zip(("model", "text", "prompt_tokens", "completion_tokens", "cost_usd"), row, strict=True)
        )

    def put(
        self, key: str, model: str, text: str, prompt_tokens: int, completion_tokens: int, cost_usd: float
    ) -> None:
        """Store an answer (the first one stored for a key wins)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO calls (key, model, text, prompt_tokens, completion_tokens, cost_usd, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, model, text, prompt_tokens, completion_tokens, cost_usd, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM calls").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()
