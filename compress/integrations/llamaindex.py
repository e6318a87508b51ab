"""LlamaIndex: a compressor as a node postprocessor, for a query engine's retrieved nodes (the optional
extra: pip install 'compress[llamaindex]').

    from llama_index.core.query_engine import RetrieverQueryEngine
    from compress.integrations.llamaindex import CompressNodePostprocessor

    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=5),
        node_postprocessors=[CompressNodePostprocessor.load("bm25", rate=0.5, joint=True)],
    )

Each node's text is compressed with the query bundle's question passed as `query=`; the node keeps
its id, score and metadata, plus `compress`: the result's figures (tokens before and after,
tokenizer, domain, seconds, status), which is kept out of the text the LLM and the embedder see. The
nodes of one query are compressed as one batch; with `joint=True` (a selector, bm25) as one context
with one budget, so each node's share follows its relevance to the question, and a node with
nothing kept is left out.

`domain` None (the default) routes each text by its shape and rules: a tool output that is JSON, a
log or a listing is compacted and runs of like lines become markers `[… N lines like "..." · id ID]`
(their ids in `metadata["compress"]["ids"]`); `expand(id)` gives back the exact lines a marker stands
for, while this compressor holds them (a bounded cache). A name (nl, code, memory, json, log,
listing) compresses every node as that domain.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from compress.infra.errors import MissingRequirement
from compress.library.load import LoadedCompressor, load_compressor

try:
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
except ImportError as exc:  # the extra is not installed: say how to get it
    raise MissingRequirement(
        "compress.integrations.llamaindex needs llama-index-core: pip install 'compress[llamaindex]'."
    ) from exc

# the metadata key of the figures; excluded from what the LLM and the embedder read (they are bookkeeping)
KEY = "compress"


class CompressNodePostprocessor(BaseNodePostprocessor):
    """Compresses retrieved nodes with a loaded compressor (a package, a run dir or a baseline).

    `rate`, `target_tokens` or `threshold` (at most one) is the budget of each node, or of all of them
    together with `joint`; `domain` None routes each by its shape and rules (a name: every node as
    that domain); `force_tokens` must survive."""

    compressor: LoadedCompressor = Field(exclude=True)
    rate: float | None = 0.5
    target_tokens: int | None = None
    threshold: float | None = None
    joint: bool = False
    domain: str | None = None
    force_tokens: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this component under."""
        return "CompressNodePostprocessor"

    @classmethod
    def load(
        cls, spec: str | Path, *, engine: str = "auto", device: str = "cpu", **fields: Any
    ) -> CompressNodePostprocessor:
        """`load_compressor(spec)` wrapped as a node postprocessor; `fields` set the budget and the rest."""
        return cls(compressor=load_compressor(spec, engine=engine, device=device), **fields)

    def expand(self, marker_id: str) -> str:
        """The exact text a marker (`· id ID]`) in a node this postprocessor returned stands for;
        CompressError when the id is unknown or was evicted from the compressor's bounded cache."""
        return self.compressor.expand(marker_id)

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        """The nodes compressed for the query bundle's question, in order, scores and metadata kept."""
        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle is not None else None
        results = self.compressor.compress_many(
            [n.node.get_content(metadata_mode=MetadataMode.NONE) for n in nodes],
            rate=self.rate if self.target_tokens is None and self.threshold is None else None,
            target_tokens=self.target_tokens,
            query=query or None,
            domain=self.domain,
            force_tokens=self.force_tokens,
            threshold=self.threshold,
            joint=self.joint,
        )
        out = []
        for n, r in zip(nodes, results, strict=True):
            if r.status == "dropped":
                continue
            # a copy: the retriever (or a docstore) may hand out the same node objects again
            node = n.node.model_copy(
                update={
                    "metadata": {**n.node.metadata, KEY: r.model_dump(exclude={"compressed"})},
                    "excluded_llm_metadata_keys": _with_key(n.node.excluded_llm_metadata_keys),
                    "excluded_embed_metadata_keys": _with_key(n.node.excluded_embed_metadata_keys),
                }
            )
            node.set_content(r.compressed)
            out.append(NodeWithScore(node=node, score=n.score))
        return out


def _with_key(keys: list[str]) -> list[str]:
    return keys if KEY in keys else [*keys, KEY]
