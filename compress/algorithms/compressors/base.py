"""The one interface every compressor implements: trained kinds and baselines alike.

The evaluate stage, the gold tasks and the library (`compress.library.load`, the one public
`compress`) hand a compressor a batch of `Request`s and the token counter of the target model, and get
one `Compressed` per request, in order. A request's `budget` is in that counter's tokens, and its
`tokens` is the text's own count by it (counted once, by the caller): one value, one unit, from the
caller to the cut. The budget rules every caller shares live here too: what a rate of a text's tokens
comes to, and that a caller gives a rate or a token budget (or a threshold), not several. So does the
file every trained compressor writes beside its weights (`compressor.json`) and where to find it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter

# what every trained compressor's adapter dir holds beside its weights: its kind and what loading needs
META_FILE = "compressor.json"


@dataclass(frozen=True)
class Request:
    """One text to compress and what the caller asks of it.

    `budget`: the most tokens the result may have, counted by the counter the call is given (None:
    the compressor's own choice); `tokens`: the text's own count by that counter, when the caller has
    it (None: the compressor counts); `domain`: the domain's settings (`unit`, `protect_patterns`),
    None for the compressor's defaults; `query`: the question the text will be asked (query-aware
    compressors use it); `force_tokens`: strings whose units go first (see `compress.algorithms.
    compressors.coarse`); `threshold`: instead of a budget, keep what scores at least this
    (compressors that score units)."""

    text: str
    budget: int | None = None
    domain: Any = None
    query: str | None = None
    force_tokens: tuple[str, ...] = ()
    threshold: float | None = None
    tokens: int | None = None

    def n_tokens(self, counter: TokenCounter) -> int:
        """The text's tokens by `counter` (the caller's count when it gave one)."""
        return int(self.tokens) if self.tokens is not None else counter.count(self.text)


@dataclass
class Compressed:
    """A compressed text and the compressor seconds it took (its share of a batch's time)."""

    text: str
    seconds: float


@dataclass(frozen=True)
class Capabilities:
    """What a compressor can be asked beyond a budget: the library, the server and evaluate ask it.

    `query`: it reads `Request.query`; `threshold`: it keeps the units scoring at least
    `Request.threshold`; `joint`: several texts with one budget (`JointCompressor`); `rate_controlled`:
    it meets any budget (else it writes its own length and a budget only caps it)."""

    query: bool = False
    threshold: bool = False
    joint: bool = False
    rate_controlled: bool = True


class Compressor(Protocol):
    """Shortens texts to a budget in the tokens of the counter it is given."""

    name: str
    capabilities: Capabilities

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One result per request, in order, each within its budget by `counter`."""
        ...


@runtime_checkable
class JointCompressor(Protocol):
    """A compressor that can treat several texts as one context with one budget (units compete
    across the texts for the query)."""

    def compress_joint(self, documents: Sequence[str], r: Request, counter: TokenCounter) -> list[str]:
        """The documents compressed together: `r.text` is their join (`compress.algorithms.text.
        units.join_documents`), `r.budget` / `r.threshold` the shared budget; one text per document."""
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


def budget_of(rate: float | None, target_tokens: int | None, n_tokens: int) -> int | None:
    """The budget a caller's `rate` or `target_tokens` comes to for a text of `n_tokens` (None: neither)."""
    if target_tokens is not None:
        return int(target_tokens)
    return tokens_at(rate, n_tokens) if rate is not None else None


def own_budget(r: Request, counter: TokenCounter, rate: float) -> int:
    """A request's budget, or `rate` of its text when it gives none (a compressor's default rate)."""
    return int(r.budget) if r.budget is not None else tokens_at(rate, r.n_tokens(counter))


def read_meta(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's `compressor.json` (a clear error for a dir the train stage did not write)."""
    path = adapter_dir / META_FILE
    if not path.is_file():
        raise CompressError(
            f"{adapter_dir} holds no {META_FILE}: it is not an adapter written by the train stage."
        )
    meta: dict[str, Any] = json.loads(path.read_text())
    return meta


def write_meta(adapter_dir: Path, meta: dict[str, Any]) -> None:
    """Save `meta` as `adapter_dir/compressor.json`."""
    (adapter_dir / META_FILE).write_text(json.dumps(meta, indent=2))


def find_adapter(path: Path) -> Path:
    """The adapter dir under a run dir (RUN_DIR/train/adapter), a train stage dir, or the adapter dir itself."""
    for cand in (path / "train" / "adapter", path / "adapter", path):
        if (cand / META_FILE).is_file():
            return cand
    raise CompressError(
        f"{path}: no trained adapter here (looked for {META_FILE} in {path}/train/adapter, {path}/adapter "
        f"and {path}). Pass a run dir under outputs/runs/ whose train stage finished."
    )
