"""`POST /v1/compress` and `POST /v1/expand`: the library's arguments as JSON, checked before anything runs.

`{"text": "..."}` answers one `CompressResult` (the library's fields, `domain` and the marker `ids`
among them); `{"texts": [...]}` answers `{"results": [...], "tokens_before": N, "tokens_after": M}`.
The other fields are `compress`'s: `rate` or `target_tokens`, `query`, `domain` (nl, code, memory or
a tool output's shape: json, log, listing; omitted: routed), `force_tokens`.

`{"id": "..."}` to /v1/expand answers `{"id", "text"}`: the exact text a marker
`[… N lines like "..." · id ID]` of an earlier result stands for.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compress.algorithms.compressors.base import check_budget
from compress.infra.errors import CompressError
from compress.serve.http import HTTPProblem


class CompressBody(BaseModel):
    """The request body of /v1/compress (types strict: a number is not a string, nor a string a list)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str | None = None
    texts: list[str] | None = None
    rate: float | None = Field(default=None, gt=0, le=1)
    target_tokens: int | None = Field(default=None, ge=1)
    # keep the units scoring at least this (a selector); instead of rate / target_tokens
    threshold: float | None = None
    # the texts as one context with one budget (a selector, bm25): units compete for the query
    joint: bool = False
    query: str | None = None
    domain: str | None = None
    force_tokens: list[str] = Field(default_factory=list)

    def checked_texts(self, max_texts: int) -> list[str]:
        """The texts to compress; an HTTPProblem naming the field when they are missing, empty or too many."""
        if self.text is None and self.texts is None:
            raise HTTPProblem(
                422, 'text: missing; send {"text": "..."} or {"texts": ["...", ...]}.', param="text"
            )
        if self.text is not None and self.texts is not None:
            raise HTTPProblem(422, "text, texts: give one of them, not both.", param="texts")
        try:
            check_budget(self.rate, self.target_tokens, self.threshold)
        except CompressError as exc:
            raise HTTPProblem(422, f"rate, target_tokens, threshold: {exc}", param="target_tokens") from exc
        if self.texts is not None:
            if not self.texts:
                raise HTTPProblem(422, "texts: an empty list; send at least one text.", param="texts")
            if len(self.texts) > max_texts:
                raise HTTPProblem(
                    413,
                    f"texts: {len(self.texts)} texts, over the server's limit of {max_texts} per request "
                    "(--max-texts); split the batch.",
                    param="texts",
                )
        texts = [self.text] if self.text is not None else list(self.texts or [])
        for i, t in enumerate(texts):
            name = "text" if self.text is not None else f"texts[{i}]"
            if not t.strip():
                raise HTTPProblem(
                    422, f"{name}: empty; send text with at least one visible character.", param=name
                )
            _unicode(t, name)
        for i, t in enumerate([*(self.query or "",), *(self.domain or "",), *self.force_tokens]):
            _unicode(t, f"query/domain/force_tokens[{i}]")
        return texts

    def options(self) -> dict[str, Any]:
        """The keyword arguments of `LoadedCompressor.compress_many`."""
        return {
            "rate": self.rate,
            "target_tokens": self.target_tokens,
            "query": self.query,
            "domain": self.domain,
            "force_tokens": tuple(self.force_tokens),
            "threshold": self.threshold,
            "joint": self.joint,
        }


def _unicode(text: str, name: str) -> None:
    # JSON may escape a lone surrogate (\ud800): valid JSON, not text any tokenizer can encode
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HTTPProblem(
            422,
            f"{name}: holds a lone surrogate ({text[exc.start]!r} at character {exc.start}); send valid Unicode text.",
            param=name,
        ) from exc


class ExpandBody(BaseModel):
    """The request body of /v1/expand: the id of a marker in an earlier result."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # ids are short hex digests; the bound only keeps a caller from sending megabytes as an id
    id: str = Field(min_length=1, max_length=256)

    def checked_id(self) -> str:
        """The id, stripped; an HTTPProblem naming the field when it is blank or not valid Unicode."""
        marker_id = self.id.strip()
        if not marker_id:
            raise HTTPProblem(422, "id: empty; send the id a marker names (`· id ID]`).", param="id")
        _unicode(marker_id, "id")
        return marker_id
