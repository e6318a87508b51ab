"""The one interface every compressor implements: trained kinds and baselines alike.

The evaluate stage, the rate sweep and (through `compress.compressors.load`) any caller hand a
compressor a batch of `Request`s and get one `Compressed` per request, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Request:
    """One text to compress and what the caller asks of it.

    `target_tokens`: the budget in the target model's tokens (None: the compressor's own choice);
    `domain`: the domain's settings (`unit`, `protect_patterns`), None for the compressor's defaults;
    `query`: the question the text will be asked (query-aware compressors use it);
    `force_tokens`: strings that must survive compression."""

    text: str
    target_tokens: int | None = None
    domain: Any = None
    query: str | None = None
    force_tokens: tuple[str, ...] = ()


@dataclass
class Compressed:
    """A compressed text and the compressor seconds it took (its share of a batch's time)."""

    text: str
    seconds: float


class Compressor(Protocol):
    """Shortens texts to a token budget."""

    name: str

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """One result per request, in order."""
        ...
