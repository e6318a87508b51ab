"""Coarse-to-fine selection (whole units by score, words of one more unit to fill the budget) and the
bm25 baseline that ranks units against the query, on hand-made texts with known answers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.baselines import BaselineContext, bm25_scores, make_baseline
from compress.algorithms.compressors.coarse import (
    Layout,
    Scored,
    above,
    choose,
    fill,
    layout,
    parses,
    word_value,
)
from compress.algorithms.data.corpora import iter_stdlib_nl
from compress.algorithms.text.units import join_documents
from compress.algorithms.text.words import negations, split_words
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE

DOCS = [
    "The json module encodes Python objects as JSON text. Use dumps to get a string. Keys are sorted "
    "when sort_keys is true.",
    "The zlib module compresses data with DEFLATE. The default compression level is 6. Level 9 is the "
    "slowest and the smallest.",
    "The sched module runs events at given times. Each event has a priority. Events with equal times run "
    "in priority order.",
    "The heapq module keeps a list as a binary heap. The smallest item is always at index 0. Pushing "
    "costs log n comparisons.",
    "The bisect module finds insertion points in sorted lists. It does not sort the list for you. "
    "insort keeps the list sorted.",
]
CODE = '''import os


def area(width, height):
    """The area of a rectangle."""
    if width < 0 or height < 0:
        raise ValueError("negative side")
    return width * height


class Store:
    """Keeps items by key."""

    def __init__(self):
        self.items = {}

    def put(self, key, value):
        self.items[key] = value
        return len(self.items)

    def timeout_seconds(self):
        return 30
'''


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("local/gemma3-270m", CACHE)


@pytest.fixture(scope="module")
def long_text() -> str:
    """About 25k target tokens of standard-library docstrings, one per paragraph."""
    texts, total = [], 0
    for row in iter_stdlib_nl(3):
        texts.append(row["text"])
        total += len(row["text"].split())
        if total > 19000:
            break
    return "\n\n".join(texts)


def _bm25(counter: TokenCounter) -> object:
    return make_baseline("bm25", BaselineContext(CACHE))


def test_bm25_keeps_the_sentence_the_query_asks_about(counter: TokenCounter) -> None:
    context, _ = join_documents(DOCS)
    budget = counter.count(context) // 4
    (out,) = _bm25(counter).compress_many(  # type: ignore[attr-defined]
        [Request(context, budget, query="What is the default compression level of zlib?")], counter
    )
    assert "The default compression level is 6." in out.text
    assert counter.count(out.text) <= budget
    # the kept sentences stay in the text's order
    kept = [s for d in DOCS for s in d.split(". ") if s.rstrip(".") in out.text]
    assert kept == sorted(kept, key=context.find)


def test_bm25_without_a_query_keeps_the_head_at_unit_boundaries(counter: TokenCounter) -> None:
    context, _ = join_documents(DOCS)
    (out,) = _bm25(counter).compress_many([Request(context, 30)], counter)  # type: ignore[attr-defined]
    assert out.text.startswith("The json module encodes Python objects as JSON text.")
    assert "zlib" not in out.text and counter.count(out.text) <= 30


def test_bm25_scores_are_zero_without_query_terms() -> None:
    units = ["alpha beta", "gamma delta", "alpha alpha"]
    assert bm25_scores(units, None).tolist() == [0.0, 0.0, 0.0]
    assert bm25_scores(units, "the of and").tolist() == [0.0, 0.0, 0.0]
    s = bm25_scores(units, "alpha")
    assert s[1] == 0.0 and s[2] > s[0] > 0.0


@pytest.mark.parametrize("budget", [100, 400, 1500, 6000, 20000])
def test_the_budget_is_held_within_two_percent(counter: TokenCounter, long_text: str, budget: int) -> None:
    assert counter.count(long_text) > 20000
    (out,) = _bm25(counter).compress_many(  # type: ignore[attr-defined]
        [Request(long_text, budget, query="Which exception is raised when the file is missing?")], counter
    )
    n = counter.count(out.text)
    assert budget * 0.98 <= n <= budget, (budget, n)


def _scored(
    lay: object, scores: list[float], relevant: list[bool] | None = None, forced: Sequence[int] = ()
) -> Scored:
    """Hand-made scores over a layout: words valued by position, `forced` word indices guarded."""
    assert isinstance(lay, Layout)
    guard = np.zeros(len(lay.words), dtype=bool)
    guard[list(forced)] = True
    rel = None if relevant is None else np.asarray(relevant)
    return Scored(lay, np.asarray(scores, dtype=float), -np.arange(len(lay.words), dtype=float), guard, rel)


def test_threshold_mode_keeps_what_scores_above_it(counter: TokenCounter) -> None:
    context, _ = join_documents(DOCS)
    lay = layout(context, "prose", counter)
    scores = np.zeros(lay.n_units)
    scores[[1, 7]] = [0.9, 0.6]
    for threshold, want in [(0.5, [1, 7]), (0.8, [1]), (0.95, [])]:
        s = _scored(lay, scores.tolist())
        keep = above(s, threshold)
        assert np.flatnonzero(keep).tolist() == want
        text = fill(s, keep, None, None, counter.count)
        assert all(context[lay.units[u].start : lay.units[u].end] in text for u in want)
        assert counter.count(text) <= sum(int(lay.unit_cost[u]) + 2 for u in want)


LONG = "A much longer sentence that will never fit into the small budget we give here at all."


def test_a_unit_that_does_not_fit_is_shortened_only_where_it_stays_readable(counter: TokenCounter) -> None:
    text = "Short one. " + LONG + " Tiny."
    lay = layout(text, "prose", counter)
    s = _scored(lay, [0.1, 0.9, 0.5])
    budget = int(lay.unit_cost[0] + lay.unit_cost[2])
    keep, frontier = choose(s, budget)
    # no question: every unit may fill; the best did not fit and is the frontier
    assert keep.tolist() == [True, False, True] and frontier == 1
    # four tokens more are not half of the long sentence: it goes whole, no stray words come in
    out = fill(s, keep, frontier, budget + 4, counter.count)
    assert out.replace("\n", " ") == "Short one. Tiny."
    # with room for most of it, it comes shortened, its first words first (the values given), in order
    roomy = budget + int(lay.unit_cost[1] * 0.8)
    out = fill(s, keep, frontier, roomy, counter.count)
    middle = out.removeprefix("Short one. ").removesuffix(" Tiny.")
    assert middle and LONG.startswith(middle) and counter.count(out) <= roomy
    assert len(middle.split()) >= len(LONG.split()) / 2


def test_a_unit_that_scores_nothing_never_takes_the_place_of_one_that_does(counter: TokenCounter) -> None:
    text = "Short one. " + LONG + " Tiny."
    lay = layout(text, "prose", counter)
    budget = int(lay.unit_cost[0] + lay.unit_cost[2])
    # the long sentence scores for the question, the others do not: they cannot fill its place
    s = _scored(lay, [0.1, 0.9, 0.5], relevant=[False, True, False])
    keep, frontier = choose(s, budget)
    assert keep.tolist() == [False, False, False] and frontier == 1
    # the budget's rest shortens it when that leaves at least half of it, else nothing is kept
    assert fill(s, keep, frontier, budget, counter.count) == ""
    roomy = int(lay.unit_cost[1] * 0.8)
    out = fill(s, keep, frontier, roomy, counter.count)
    assert LONG.startswith(out) and len(out.split()) >= len(LONG.split()) / 2
    # a unit that scores for it may still come in after it
    s = _scored(lay, [0.1, 0.9, 0.5], relevant=[False, True, True])
    keep, _ = choose(s, budget)
    assert keep.tolist() == [False, False, True]


def test_a_forced_string_keeps_its_unit_or_goes_with_it(counter: TokenCounter) -> None:
    text = "Short one. " + LONG + " Tiny v2.1 here."
    lay = layout(text, "prose", counter)
    forced = [i for i in range(len(lay.words)) if lay.words.word(i) == "v2.1"]
    s = _scored(lay, [0.9, 0.1, 0.0], forced=forced)
    keep, _ = choose(s, int(lay.unit_cost[2]))
    assert keep.tolist() == [False, False, True]  # the forced unit first, though it scores least
    # forced punctuation (LLMLingua-2's force_tokens) brings no fragment of a dropped sentence along
    dots = [i for i in range(len(lay.words)) if lay.words.word(i).endswith(".")]
    s = _scored(lay, [0.9, 0.1, 0.5], forced=dots)
    budget = int(lay.unit_cost[0] + lay.unit_cost[2]) + 3
    out = fill(s, *choose(s, budget), budget, counter.count)
    assert out.replace("\n", " ") == "Short one. Tiny v2.1 here."


@pytest.mark.parametrize("budget", [8, 20, 45, 70, 110])
def test_compressed_code_keeps_whole_lines_and_parses(counter: TokenCounter, budget: int) -> None:
    (out,) = _bm25(counter).compress_many(  # type: ignore[attr-defined]
        [Request(CODE, budget, domain=_code_domain(), query="what does timeout_seconds return?")], counter
    )
    assert parses(out.text), out.text
    assert counter.count(out.text) <= budget
    lines = {line.strip() for line in CODE.splitlines()} | {"..."}
    assert all(line.strip() in lines for line in out.text.splitlines())
    if budget >= 20:  # the method the query names, under its class (its body may be `...`)
        assert "class Store:" in out.text and "def timeout_seconds(self):" in out.text


def _code_domain() -> object:
    from omegaconf import OmegaConf

    return OmegaConf.create({"name": "code"})


def test_a_shortened_unit_keeps_its_negation_first() -> None:
    """Without its `not` a kept sentence says the opposite: negations rank with protected facts."""
    words = split_words("It does not sort the list for you, and it won't ever copy it.")
    value = word_value(words, None, None, np.zeros(len(words), dtype=bool))
    by_word = {words.word(i): value[i] for i in range(len(words))}
    assert by_word["not"] > by_word["sort"] > by_word["the"]
    assert by_word["won't"] > by_word["copy"]
    assert negations(words).sum() == 2
