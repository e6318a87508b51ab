"""The LangChain document compressor inside LangChain's own classes: a `BaseRetriever` over a few
documents, wrapped in `ContextualCompressionRetriever` (langchain-classic) the way a RAG chain uses it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from compress.infra.errors import CompressError
from compress.integrations.langchain import CompressDocumentCompressor
from compress.library.load import LoadedCompressor
from tests.serve.test_tool_outputs import ERROR_LINE, LOG, QUESTION

DOCS = [
    Document(
        page_content="The observatory on the northern ridge was finished in 1931 after nine years of work. "
        "Its main telescope, a 72-inch reflector, was the largest in the country for a decade.",
        metadata={"source": "history.txt"},
        id="a",
    ),
    Document(
        page_content="def mean(values):\n    total = sum(values)\n    return total / len(values)\n",
        metadata={"source": "stats.py"},
        id="b",
    ),
    Document(
        page_content="Bread is baked from flour, water, salt and yeast.",
        metadata={"source": "food.txt"},
        id="c",
    ),
]


class WordOverlapRetriever(BaseRetriever):
    """The documents sharing a word with the query, most shared words first."""

    docs: list[Document]
    k: int = 2

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        words = set(query.lower().split())
        scored = [(len(words & set(d.page_content.lower().split())), d) for d in self.docs]
        return [d for n, d in sorted(scored, key=lambda x: -x[0]) if n][: self.k]


@pytest.fixture
def compressor() -> CompressDocumentCompressor:
    return CompressDocumentCompressor.load("truncate", rate=0.5)


def test_contextual_compression_retriever_compresses_what_it_retrieves(
    compressor: CompressDocumentCompressor, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real = LoadedCompressor.compress_many

    def spy(self: LoadedCompressor, texts: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("query"))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(LoadedCompressor, "compress_many", spy)
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=WordOverlapRetriever(docs=DOCS)
    )
    query = "when was the observatory telescope finished"
    out = retriever.invoke(query)
    assert seen == [query]  # the retriever's query reaches the library as query=
    assert [d.id for d in out] == ["a"]
    (doc,) = out
    assert DOCS[0].page_content.startswith(doc.page_content) and len(doc.page_content) < len(
        DOCS[0].page_content
    )
    stats = doc.metadata["compress"]
    assert doc.metadata["source"] == "history.txt" and stats["status"] == "compressed"
    assert stats["tokens_after"] <= round(0.5 * stats["tokens_before"]) and stats["domain"] == "nl"


def test_batch_keeps_order_metadata_and_routes(compressor: CompressDocumentCompressor) -> None:
    out = compressor.compress_documents(DOCS, query="anything")
    assert [d.id for d in out] == ["a", "b", "c"]
    assert [d.metadata["compress"]["domain"] for d in out] == ["nl", "code", "nl"]
    assert [d.metadata["source"] for d in out] == [d.metadata["source"] for d in DOCS]
    assert compressor.compress_documents([], query="x") == []


def test_async_path_and_target_tokens() -> None:
    c = CompressDocumentCompressor.load("truncate", rate=None, target_tokens=8)
    out = asyncio.run(c.acompress_documents(DOCS[:1], query="observatory"))
    assert out[0].metadata["compress"]["tokens_after"] <= 8


def test_a_tool_output_is_routed_and_its_markers_expand(compressor: CompressDocumentCompressor) -> None:
    log = Document(page_content=LOG, metadata={"source": "service.log"}, id="log")
    (doc,) = compressor.compress_documents([log], query=QUESTION)
    stats = doc.metadata["compress"]
    assert stats["domain"] == "log" and stats["ids"] and ERROR_LINE in doc.page_content.splitlines()
    for marker_id in stats["ids"]:
        text = compressor.expand(marker_id)
        assert text in LOG and ERROR_LINE not in text
    with pytest.raises(CompressError, match="unknown"):
        compressor.expand("0badc0de")
    # a domain given: every document compressed as that domain, the log's shape not looked for
    prose = CompressDocumentCompressor(compressor=compressor.compressor, rate=0.5, domain="nl")
    (doc,) = prose.compress_documents([log], query=QUESTION)
    assert doc.metadata["compress"]["domain"] == "nl" and doc.metadata["compress"]["ids"] == []
