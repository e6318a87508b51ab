"""The one interface every compressor implements: trained kinds and baselines alike.

The evaluate stage, the rate sweep and the library (`compress.library.load`) hand a compressor a batch
of `Request`s and get one `Compressed` per request, in order. The budget rules every caller shares
live here too: what a rate of a text's tokens comes to, and that a caller gives a rate or a token
budget, not both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from compress.errors import CompressError


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


def tokens_at(rate: float, n_tokens: int) -> int:
    """The token budget of keeping `rate` of an `n_tokens` text: rounded, at least one token."""
    return max(1, round(float(rate) * n_tokens))


def check_budget(rate: float | None, target_tokens: int | None) -> None:
    """A CompressError unless the caller gave at most one of `rate` (a share in (0, 1]) and
    `target_tokens` (a whole number, at least 1), each well formed."""
    if rate is not None and target_tokens is not None:
        raise CompressError(
            f"give rate or target_tokens, not both (rate={rate}, target_tokens={target_tokens})."
        )
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1
    ):
        raise CompressError(f"rate={rate!r}: give the share of tokens to keep, a number in (0, 1], e.g. 0.5.")
    if target_tokens is not None and (
        isinstance(target_tokens, bool) or not isinstance(target_tokens, int) or target_tokens < 1
    ):
        raise CompressError(f"target_tokens={target_tokens!r}: give a whole number of tokens, at least 1.")
