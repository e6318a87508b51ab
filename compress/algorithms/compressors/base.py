"""The one interface every compressor implements: trained kinds and baselines alike.

The evaluate stage, the rate sweep and the library (`compress.library.load`) hand a compressor a batch
of `Request`s and get one `Compressed` per request, in order. The budget rules every caller shares
live here too: what a rate of a text's tokens comes to, and that a caller gives a rate or a token
budget (or a threshold), not several.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from compress.infra.errors import CompressError


@dataclass(frozen=True)
class Request:
    """One text to compress and what the caller asks of it.

    `target_tokens`: the budget in the target model's tokens (None: the compressor's own choice);
    `domain`: the domain's settings (`unit`, `protect_patterns`), None for the compressor's defaults;
    `query`: the question the text will be asked (query-aware compressors use it);
    `force_tokens`: strings that must survive compression;
    `threshold`: instead of a budget, keep what scores at least this (compressors that score units)."""

    text: str
    target_tokens: int | None = None
    domain: Any = None
    query: str | None = None
    force_tokens: tuple[str, ...] = ()
    threshold: float | None = None


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


@runtime_checkable
class JointCompressor(Protocol):
    """A compressor that can treat several texts as one context with one budget (units compete
    across the texts for the query)."""

    def compress_joint(self, documents: Sequence[str], r: Request) -> list[str]:
        """The documents compressed together: `r.text` is their join (`compress.algorithms.text.units.
        join_documents`), `r.target_tokens` / `r.threshold` the shared budget; one text per document."""
        ...


def tokens_at(rate: float, n_tokens: int) -> int:
    """The token budget of keeping `rate` of an `n_tokens` text: rounded, at least one token."""
    return max(1, round(float(rate) * n_tokens))


def check_budget(rate: float | None, target_tokens: int | None, threshold: float | None = None) -> None:
    """A CompressError unless the caller gave at most one of `rate` (a share in (0, 1]), `target_tokens`
    (a whole number, at least 1) and `threshold` (a score: keep what scores at least it), each well formed."""
    given = {
        k: v
        for k, v in (("rate", rate), ("target_tokens", target_tokens), ("threshold", threshold))
        if v is not None
    }
    if len(given) > 1:
        named = ", ".join(f"{k}={v}" for k, v in given.items())
        raise CompressError(f"give one of rate, target_tokens or threshold, not several ({named}).")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 < rate <= 1
    ):
        raise CompressError(f"rate={rate!r}: give the share of tokens to keep, a number in (0, 1], e.g. 0.5.")
    if target_tokens is not None and (
        isinstance(target_tokens, bool) or not isinstance(target_tokens, int) or target_tokens < 1
    ):
        raise CompressError(f"target_tokens={target_tokens!r}: give a whole number of tokens, at least 1.")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)):
        raise CompressError(f"threshold={threshold!r}: give a number (a unit score to keep at or above).")
