"""A content-hash disk cache of LLM answers, shared by every run and sweep job under one outputs dir.

SQLite in WAL mode: several processes (the parallel jobs of a sweep) read and write at once, a writer
waiting up to a minute for another's write to end. WAL needs memory shared between the processes, which
network filesystems cannot give: there (NFS, Lustre, GPFS, ... as /proc/mounts tells) the cache uses
SQLite's rollback journal, which relies on the filesystem's locks instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

# seconds a writer waits for another process's write to finish before giving up
BUSY_TIMEOUT_S = 60.0
NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "fuse.sshfs", "9p")

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


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem holding `path` (Linux /proc/mounts), or None where unknown."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, parts[2]
    return kind


def journal_mode(path: Path) -> str:
    """WAL on local disks; the rollback journal on network filesystems, where WAL is unsafe."""
    kind = filesystem_type(path.parent)
    return "DELETE" if kind and kind.startswith(NETWORK_FS) else "WAL"


def request_key(payload: dict[str, Any]) -> str:
    """The content hash of everything that decides a call's answer."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class CallCache:
    """Get and put answers by request key."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            str(path), timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
        )
        self.journal_mode = journal_mode(path)
        self._setup()

    def _setup(self) -> None:
        """Journal mode and table. Two jobs opening a new cache at once can find it locked while the
        other switches it to WAL (SQLite does not always wait there): retry until the busy timeout."""
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
                self._db.execute(f"PRAGMA journal_mode={self.journal_mode}")
                # with WAL, NORMAL never corrupts the cache; a power cut may lose the last answers only
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.execute(_SCHEMA)
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

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
