"""LangChain: a compressor as a `BaseDocumentCompressor`, for `ContextualCompressionRetriever` and any
chain that post-processes retrieved documents (the optional extra: pip install 'compress[langchain]').

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from compress.integrations.langchain import CompressDocumentCompressor

    retriever = ContextualCompressionRetriever(
        base_compressor=CompressDocumentCompressor.load("packages/nl-v1", rate=0.5),
        base_retriever=vectorstore.as_retriever(),
    )

Each document's text is compressed with the retriever's query passed as `query=`; its metadata keeps
what it had, plus `compress`: the result's figures (tokens before and after, tokenizer, domain,
seconds, status). The documents of one call are compressed as one batch; with `joint=True` (a
selector, bm25) as one context with one budget, so each document's share follows its relevance to
the query, and a document with nothing kept is left out of the result.

`domain` None (the default) routes each text by its shape and rules: a tool output that is JSON, a
log or a listing is compacted and runs of like lines become markers `[… N lines like "..." · id ID]`
(their ids in `metadata["compress"]["ids"]`); `expand(id)` gives back the exact lines a marker stands
for, while this compressor holds them (a bounded cache). A name (nl, code, memory, json, log,
listing) compresses every document as that domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field

from compress.infra.errors import MissingRequirement
from compress.library.load import LoadedCompressor, load_compressor

try:
    from langchain_core.callbacks import Callbacks
    from langchain_core.documents import BaseDocumentCompressor, Document
except ImportError as exc:  # the extra is not installed: say how to get it
    raise MissingRequirement(
        "compress.integrations.langchain needs langchain-core: pip install 'compress[langchain]'."
    ) from exc


class CompressDocumentCompressor(BaseDocumentCompressor):
    """Compresses retrieved documents with a loaded compressor (a package, a run dir or a baseline).

    `rate`, `target_tokens` or `threshold` (at most one) is the budget of each document, or of all of
    them together with `joint`; `domain` None routes each by its shape and rules (a name: every document
    as that domain); `force_tokens` must survive."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    compressor: LoadedCompressor
    rate: float | None = 0.5
    target_tokens: int | None = None
    threshold: float | None = None
    joint: bool = False
    domain: str | None = None
    force_tokens: list[str] = Field(default_factory=list)

    @classmethod
    def load(
        cls, spec: str | Path, *, engine: str = "auto", device: str = "cpu", **fields: Any
    ) -> CompressDocumentCompressor:
        """`load_compressor(spec)` wrapped as a document compressor; `fields` set the budget and the rest."""
        return cls(compressor=load_compressor(spec, engine=engine, device=device), **fields)

    def expand(self, marker_id: str) -> str:
        """The exact text a marker (`· id ID]`) in a document this compressor returned stands for;
        CompressError when the id is unknown or was evicted from the compressor's bounded cache."""
        return self.compressor.expand(marker_id)

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """The documents compressed for `query`, in order, with the figures in `metadata["compress"]`."""
        docs = list(documents)
        if not docs:
            return []
        results = self.compressor.compress_many(
            [d.page_content for d in docs],
            rate=self.rate if self.target_tokens is None and self.threshold is None else None,
            target_tokens=self.target_tokens,
            query=query or None,
            domain=self.domain,
            force_tokens=self.force_tokens,
            threshold=self.threshold,
            joint=self.joint,
        )
        return [
            Document(
                page_content=r.compressed,
                metadata={**d.metadata, "compress": r.model_dump(exclude={"compressed"})},
                id=d.id,
            )
            for d, r in zip(docs, results, strict=True)
            if r.status != "dropped"
        ]
