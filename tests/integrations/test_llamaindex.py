"""The LlamaIndex node postprocessor inside LlamaIndex's own classes: a `RetrieverQueryEngine` over an
in-memory `VectorStoreIndex` (embedded by the bundled all-MiniLM-L6-v2) answering with `MockLLM`,
which echoes the prompt it was given, so the answer is exactly what reached the LLM."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode

from compress.infra.errors import CompressError
from compress.infra.llm.tokens import count_cl100k
from compress.integrations.llamaindex import CompressNodePostprocessor
from compress.library.load import LoadedCompressor, load_compressor
from tests.serve.test_tool_outputs import ERROR_LINE, LOG
from tests.serve.test_tool_outputs import QUESTION as LOG_QUESTION
from tests.support.llamaindex import MiniLMEmbedding

DOCS = [
    Document(
        text="The observatory on the northern ridge was finished in 1931 after nine years of work. "
        "Its main telescope is a reflector whose mirror is 72 inches wide. The mirror was ground in "
        "Pasadena and carried up the ridge by mule. Astronomers there measured the distances to nearby "
        "galaxies. Today the dome is open to visitors on Saturday nights.",
        metadata={"source": "observatory.txt"},
    ),
    Document(
        text="Bread is baked from flour, water, salt and yeast. The dough rises for two hours in a warm "
        "kitchen. Bakers shape the loaves before dawn and bake them in a hot oven. A good crust cracks "
        "when it cools. Rye bread keeps fresh for a week.",
        metadata={"source": "bread.txt"},
    ),
    Document(
        text="Sailing boats leave the harbour on the morning tide. The harbour master keeps a log of every "
        "boat and its crew. Fishing boats come back before dark with their catch. Storms in the autumn "
        "close the harbour for days. The lighthouse guides boats past the rocks.",
        metadata={"source": "harbour.txt"},
    ),
]
QUESTION = "How wide is the mirror of the observatory telescope?"


@pytest.fixture(scope="module")
def retriever() -> BaseRetriever:
    index = VectorStoreIndex.from_documents(DOCS, embed_model=MiniLMEmbedding())
    return index.as_retriever(similarity_top_k=3)


@pytest.fixture(scope="module")
def bm25() -> Iterator[LoadedCompressor]:
    with load_compressor("bm25") as c:
        yield c


def _engine(retriever: BaseRetriever, *post: CompressNodePostprocessor) -> RetrieverQueryEngine:
    return RetrieverQueryEngine.from_args(retriever, llm=MockLLM(), node_postprocessors=list(post))


def test_the_query_engine_sends_compressed_nodes_to_the_llm(
    retriever: BaseRetriever, bm25: LoadedCompressor, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []
    real = LoadedCompressor.compress_many

    def spy(self: LoadedCompressor, texts: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("query"))
        return real(self, texts, *args, **kwargs)

    monkeypatch.setattr(LoadedCompressor, "compress_many", spy)
    plain = _engine(retriever).query(QUESTION)
    squeezed = _engine(retriever, CompressNodePostprocessor(compressor=bm25, rate=0.5)).query(QUESTION)
    assert seen == [QUESTION]  # the query bundle's question reaches the library as query=
    # MockLLM answers with its prompt: what the LLM was sent
    sent, full = str(squeezed), str(plain)
    assert count_cl100k(sent) < count_cl100k(full)
    assert QUESTION in sent and "source: observatory.txt" in sent  # the template and other metadata stay
    assert "tokens_before" not in sent  # the figures are kept from the LLM
    before = {n.node.metadata["source"]: n.score for n in plain.source_nodes}
    after = {n.node.metadata["source"]: n for n in squeezed.source_nodes}
    assert set(after) == set(before) == {d.metadata["source"] for d in DOCS}
    for source, n in after.items():
        stats = n.node.metadata["compress"]
        assert n.score == before[source]  # the retriever's score is kept
        assert stats["status"] == "compressed"
        assert stats["tokens_after"] <= round(0.5 * stats["tokens_before"])
        text = n.node.get_content(metadata_mode=MetadataMode.NONE)
        assert text in sent and text not in [d.text for d in DOCS]
    # the retriever's own nodes were not changed in place
    assert all("compress" not in n.node.metadata for n in plain.source_nodes)


def test_joint_gives_the_budget_to_the_relevant_node_and_drops_the_rest(
    retriever: BaseRetriever, bm25: LoadedCompressor
) -> None:
    post = CompressNodePostprocessor(compressor=bm25, rate=0.4, joint=True)
    out = _engine(retriever, post).query(QUESTION)
    (node,) = out.source_nodes  # bread and harbour share no word with the question: nothing kept
    stats = node.node.metadata["compress"]
    assert node.node.metadata["source"] == "observatory.txt"
    # the relevant node keeps far more than 40% of itself: it got the others' share
    assert stats["tokens_after"] > 0.4 * stats["tokens_before"]
    assert "72 inches" in str(out) and "Bread" not in str(out) and "harbour" not in str(out)


def test_empty_target_tokens_and_the_async_path(bm25: LoadedCompressor) -> None:
    post = CompressNodePostprocessor(compressor=bm25, rate=None, target_tokens=12)
    assert post.postprocess_nodes([], query_str="x") == []
    node = NodeWithScore(node=TextNode(text=DOCS[0].text, metadata={"source": "o"}), score=0.5)
    (out,) = asyncio.run(post.apostprocess_nodes([node], QueryBundle(QUESTION)))
    assert out.score == 0.5 and out.node.node_id == node.node.node_id
    assert out.node.metadata["compress"]["tokens_after"] <= 12
    assert node.node.get_content() == DOCS[0].text


def test_a_tool_output_is_routed_and_its_markers_expand(bm25: LoadedCompressor) -> None:
    post = CompressNodePostprocessor(compressor=bm25, rate=0.1)
    node = NodeWithScore(node=TextNode(text=LOG, metadata={"source": "service.log"}), score=1.0)
    (out,) = post.postprocess_nodes([node], query_str=LOG_QUESTION)
    stats = out.node.metadata["compress"]
    assert stats["domain"] == "log" and stats["ids"]
    assert ERROR_LINE in out.node.get_content(metadata_mode=MetadataMode.NONE).splitlines()
    for marker_id in stats["ids"]:
        text = post.expand(marker_id)
        assert text in LOG and ERROR_LINE not in text
    with pytest.raises(CompressError, match="unknown"):
        post.expand("0badc0de")
    prose = CompressNodePostprocessor(compressor=bm25, rate=0.1, domain="nl")
    (out,) = prose.postprocess_nodes([node], query_str=LOG_QUESTION)
    assert out.node.metadata["compress"]["domain"] == "nl" and out.node.metadata["compress"]["ids"] == []


def test_load_by_name() -> None:
    post = CompressNodePostprocessor.load("truncate", rate=0.5)
    assert post.compressor.name == "truncate" and post.class_name() == "CompressNodePostprocessor"
