"""Baselines every trained compressor is compared with, held to the same token budget: a registry by name.

- `identity`: the original text;
- `truncate`: the longest prefix within the budget, by the target model's tokenizer (keeps the head);
- `tail`: the longest suffix within the budget (keeps the end): beside `truncate` it shows whether a
  validator favours the head of a text;
- `random`: words dropped at random (seeded per text) until the rest fits the budget, order kept;
- `selfinfo`: the extractive self-information method (Selective Context) under the bundled model;
- `bm25`: units (sentences, turns, code statements) ranked by BM25 against the request's query, kept
  in order within the budget: the lexical sentence selector every query-aware table carries;
- `hybrid`: not a baseline but a compressor that needs no training (`compress.algorithms.compressors.
  hybrid`): BM25 and static embeddings, bridge and context expansion, recency, a per-unit cache.

Each call brings the target model's token counter its budgets are in (`Compressor.compress_many`).
A new baseline is a class implementing `compress.algorithms.compressors.base.Compressor` and an entry in `BASELINES`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from compress.algorithms.compressors.base import Capabilities, Compressed, Compressor, Request
from compress.algorithms.compressors.coarse import Scored, layout, select_documents, select_text, word_value
from compress.algorithms.compressors.code import code_map, compress_code
from compress.algorithms.compressors.hybrid import Hybrid
from compress.algorithms.teachers.selfinfo import SelfInfoTeacher
from compress.algorithms.text.units import join_documents, shape_of, split_units
from compress.algorithms.text.words import protected
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter, largest_prefix
from compress.infra.models.bundled import LOCAL_MODELS

# bm25s logs every index it builds at DEBUG: one line per text under Hydra's logging, noise to a user
logging.getLogger("bm25s").setLevel(logging.WARNING)


@dataclass
class BaselineContext:
    """What a baseline may need: the model cache, the scoring model, a seed."""

    cache_dir: Path
    scoring_model: str = next(iter(LOCAL_MODELS))
    seed: int = 0
    # how many texts' selfinfo scores are kept (least recently used out first); None = all, for a
    # batch job of known size (evaluate: the rate sweep comes back to every text)
    scored_texts: int | None = 1024


def _timed(fn: Callable[[Request], str], requests: Sequence[Request]) -> list[Compressed]:
    out = []
    for r in requests:
        t0 = time.perf_counter()
        text = fn(r)
        out.append(Compressed(text, time.perf_counter() - t0))
    return out


class Identity:
    """The original text, unchanged."""

    name = "identity"
    capabilities = Capabilities()

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Every text as it is."""
        return _timed(lambda r: r.text, requests)


class Truncate:
    """The longest prefix of the text within the budget (the head of the text)."""

    name = "truncate"
    capabilities = Capabilities()

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text cut to its budget by the target model's tokenizer."""
        return _timed(lambda r: counter.truncate(r.text, _budget(r)), requests)


class Tail:
    """The longest suffix of the text within the budget (the end of the text)."""

    name = "tail"
    capabilities = Capabilities()

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text's end, cut to its budget by the target model's tokenizer."""
        return _timed(lambda r: counter.tail(r.text, _budget(r)), requests)


class RandomWords:
    """Words dropped at random until the rest fits the budget; the kept words stay in order.

    The draw is seeded by the baseline's seed and the text, so a rerun (or another method's row at the
    same budget) drops the same words."""

    name = "random"
    capabilities = Capabilities()

    def __init__(self, ctx: BaselineContext) -> None:
        self.seed = ctx.seed

    def _one(self, r: Request, counter: TokenCounter) -> str:
        spans = split_units(r.text, "word")
        order = list(range(len(spans)))
        random.Random(f"{self.seed}:{hashlib.sha256(r.text.encode()).hexdigest()}").shuffle(order)

        def text_of(k: int) -> str:
            keep = sorted(order[:k])
            return "".join(r.text[spans[i][0] : spans[i][1]] for i in keep).strip()

        k = largest_prefix(len(spans), lambda k: counter.count(text_of(k)), _budget(r))
        return text_of(k)

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text with the most random words it can keep within its budget."""
        return _timed(lambda r: self._one(r, counter), requests)


def bm25_scores(units: Sequence[str], query: str | None) -> np.ndarray:
    """BM25 (bm25s: Lucene's variant, k1 1.5, b 0.75, English stop words) of each unit against the
    query, the units being the corpus; no query (or one of stop words only): every unit 0."""
    import bm25s

    terms = bm25s.tokenize([query or ""], stopwords="en", show_progress=False, return_ids=False)[0]
    if not terms or not units:
        return np.zeros(len(units))
    # again here: a logging set-up after import (Hydra's job logging) lets its DEBUG lines through
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    index = bm25s.BM25()
    index.index(bm25s.tokenize(list(units), stopwords="en", show_progress=False), show_progress=False)
    return np.asarray(index.get_scores(terms), dtype=np.float64)


class BM25:
    """Units ranked by BM25 against the query, kept in text order within the budget, a unit that shares
    no term with the query never in the place of one that does (`coarse.choose`); what budget is left
    shortens the best unit not kept, its facts and the query's words first. Without a query every unit
    ties and the head of the text is kept, cut at unit boundaries. Several texts can share one budget
    (`compress_joint`). Code is read by definitions (`compress.algorithms.compressors.code`): each
    function's BM25 decides whether it stays whole or as its signature (`structure=False`: statements
    one by one, as before)."""

    name = "bm25"
    capabilities = Capabilities(query=True, joint=True)

    def __init__(self, ctx: BaselineContext, structure: bool = True) -> None:
        self.ctx = ctx
        self.structure = structure

    def score(self, r: Request, counter: TokenCounter) -> Scored:
        """The text's units scored by BM25 against the request's query (relevant: a shared term)."""
        domain = str(r.domain.name) if r.domain is not None and "name" in r.domain else None
        lay = layout(r.text, shape_of(domain, r.text), counter)
        scores = bm25_scores([r.text[u.start : u.end] for u in lay.units], r.query)
        facts = protected(lay.words, ["numbers", "identifiers"], [])
        return Scored(
            lay,
            scores,
            word_value(lay.words, r.query, None, facts),
            protected(lay.words, [], [], r.force_tokens),
            scores > 0 if r.query and r.query.strip() else None,
        )

    def _one(self, r: Request, counter: TokenCounter) -> str:
        budget = _budget(r)
        if r.n_tokens(counter) <= budget:
            return r.text
        domain = str(r.domain.name) if r.domain is not None and "name" in r.domain else None
        if self.structure and shape_of(domain, r.text) == "code" and (cmap := code_map(r.text)) is not None:
            # z-scored: a plan's knapsack order reads scores on a scale free of the corpus's idf (on the
            # dev split z-scores and raw scores keep as much; 3x z-scores keep less)
            raw = bm25_scores(cmap.documents(), r.query)
            scores = (raw - raw.mean()) / (raw.std() or 1.0)
            out = compress_code(cmap, scores, budget, counter.count, counter.token_starts(r.text))
            if out is not None:
                return out
        return select_text(self.score(r, counter), budget, None, counter.count)

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text's best units for its query within its budget."""
        return _timed(lambda r: self._one(r, counter), requests)

    def compress_joint(self, documents: Sequence[str], r: Request, counter: TokenCounter) -> list[str]:
        """The texts as one context (`r.text`, their join) with one budget, `r.budget`."""
        _, spans = join_documents(list(documents))
        return select_documents(self.score(r, counter), spans, _budget(r), None, counter.count)


class SelfInfo:
    """The extractive self-information method (Selective Context) held to a token budget.

    A text's tokens are scored once (one forward pass of the bundled model) and selected at every
    budget asked; each result's seconds are what one call costs: the scoring plus the selection.
    The scores of the last `ctx.scored_texts` texts are kept (least recently used out first), so a
    long-running server holds a bounded cache."""

    name = "selfinfo"
    capabilities = Capabilities()

    def __init__(self, ctx: BaselineContext) -> None:
        self.ctx = ctx
        self._teacher: SelfInfoTeacher | None = None
        self._scored: OrderedDict[str, tuple[list[tuple[int, int]], list[float], float]] = OrderedDict()

    def _scorer(self) -> SelfInfoTeacher:
        if self._teacher is None:  # loaded on first use only: a run without this baseline never pays for it
            self._teacher = SelfInfoTeacher(
                self.ctx.scoring_model, self.ctx.cache_dir, rate=1.0, unit="word", protect=[]
            )
        return self._teacher

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """Each text's most informative units (words, or lines for code) within its budget."""
        teacher = self._scorer()
        out = []
        for r in requests:
            offsets, surprisal, scoring_s = self._scores(teacher, r.text)
            t0 = time.perf_counter()
            unit = str(r.domain.unit) if r.domain is not None else "word"
            # the caller's forced strings are kept whatever their information (the domain's protected
            # patterns are the teacher's business, not the baseline's: it stays the plain method)
            forced = [re.escape(t) for t in r.force_tokens]
            budget = _budget(r)
            # the scoring model's tokens are not the target model's: its share of them, lowered
            # until the target model's count is within the budget
            rate = min(1.0, budget / max(1, r.n_tokens(counter)))
            while True:
                teacher.target_tokens = max(1, round(rate * len(surprisal)))
                text = teacher.select(r.text, offsets, surprisal, unit, forced)
                if rate <= 0.02 or counter.count(text) <= budget:
                    break
                rate *= 0.9
            out.append(Compressed(text, scoring_s + time.perf_counter() - t0))
        return out

    def _scores(
        self, teacher: SelfInfoTeacher, text: str
    ) -> tuple[list[tuple[int, int]], list[float], float]:
        if text in self._scored:
            self._scored.move_to_end(text)
            return self._scored[text]
        t0 = time.perf_counter()
        offsets, surprisal = teacher.token_surprisal(text)
        self._scored[text] = (offsets, surprisal, time.perf_counter() - t0)
        while self.ctx.scored_texts is not None and len(self._scored) > self.ctx.scored_texts:
            self._scored.popitem(last=False)
        return self._scored[text]


def _budget(r: Request) -> int:
    if r.budget is None:
        raise CompressError("a baseline needs a token budget: give each request a budget.")
    return int(r.budget)


BASELINES: dict[str, Callable[[BaselineContext], Compressor]] = {
    "identity": Identity,
    "truncate": Truncate,
    "tail": Tail,
    "random": RandomWords,
    "selfinfo": SelfInfo,
    "bm25": BM25,
    "hybrid": Hybrid,
}


def make_baseline(name: str, ctx: BaselineContext) -> Compressor:
    """The baseline called `name` (a clear error naming the ones there are)."""
    if name not in BASELINES:
        raise CompressError(f"evaluate: unknown baseline {name!r}; choose from {sorted(BASELINES)}.")
    return BASELINES[name](ctx)


def scoring_model(teacher_cfg: Any) -> str:
    """The bundled model the selfinfo baseline scores with: the teacher's when it is bundled, else the first."""
    name = teacher_cfg.get("model")
    return str(name) if name in LOCAL_MODELS else next(iter(LOCAL_MODELS))
