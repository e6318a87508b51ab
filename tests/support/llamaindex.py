"""The bundled all-MiniLM-L6-v2 sentence embedder as a LlamaIndex embedding model (local, offline), for
the LlamaIndex integration's tests and benchmark."""

from __future__ import annotations

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding

from compress.algorithms.metrics.equivalence import embed


class MiniLMEmbedding(BaseEmbedding):
    """Unit-norm all-MiniLM-L6-v2 vectors (`compress.algorithms.metrics.equivalence.embed`, on CPU)."""

    model_name: str = "all-MiniLM-L6-v2"

    def _get_query_embedding(self, query: str) -> Embedding:
        return [float(x) for x in embed([query])[0]]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return [float(x) for x in embed([text])[0]]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return [[float(x) for x in row] for row in embed(texts)]
