"""The expand store: the exact text every lossy marker stands for, kept under a short id.

Ids are content hashes (the first 8 hex digits of SHA-256), so the same dropped text gets the same
id; a different text whose hash starts the same gets a longer id (12, 16... digits), so an id never
names two texts. The store is bounded (least recently used out first) by entries and by characters,
and shared by the threads of a server: every operation holds one lock.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

ID_DIGITS = 8


def text_id(text: str, digits: int = ID_DIGITS) -> str:
    """The id a text gets in a store where no other text shares its hash prefix."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:digits]


class ExpandStore:
    """A bounded, thread-safe LRU of dropped texts by id: `put(text) -> id`, `get(id) -> text`."""

    def __init__(self, max_entries: int = 2048, max_chars: int = 32_000_000) -> None:
        self.max_entries, self.max_chars = max_entries, max_chars
        self._d: OrderedDict[str, str] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def put(self, text: str) -> str:
        """Store `text` (or refresh it when it is there) and return its id."""
        with self._lock:
            digits = ID_DIGITS
            while True:
                key = text_id(text, digits)
                held = self._d.get(key)
                if held is None or held == text:
                    break
                digits += 4  # a hash-prefix collision: a longer id, never another text's
            if held is None:
                self._d[key] = text
                self._chars += len(text)
            self._d.move_to_end(key)
            # the newest entry stays even when it alone is over the character bound
            while len(self._d) > 1 and (len(self._d) > self.max_entries or self._chars > self.max_chars):
                _, old = self._d.popitem(last=False)
                self._chars -= len(old)
            return key

    def get(self, key: str) -> str:
        """The exact text stored under `key`; KeyError when it is unknown or was evicted."""
        with self._lock:
            text = self._d[key]
            self._d.move_to_end(key)
            return text

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._d

    def __len__(self) -> int:
        with self._lock:
            return len(self._d)
