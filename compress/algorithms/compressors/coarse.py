"""Coarse-to-fine selection: whole units by relevance within a token budget, then one more unit
shortened only where that keeps it readable. Shared by every unit-level compressor (the `selector`
kind, the `bm25` baseline); they differ only in how they score units and words.

A text is cut into units (`compress.algorithms.text.units.units_of`: sentences, speaker turns, code
statements). Units are taken best first, each with the units it needs (a speaker's tag, a function's
header), as long as they fit. The budget is filled by relevance, not by fit: once a unit that scores
for the question does not fit, no unit that scores nothing for it (`Scored.relevant`) takes its
place; smaller units that score for it still may. What budget is left then shortens that best unit
that did not fit (prose and chat: its words ranked by `Scored.word`, kept in order) when the
shortened unit keeps at least half of its words, else it goes whole: no output line is made of
stray words or a lone number. A unit holding a forced string (`Request.force_tokens`) goes before
every other unit and keeps the string if it is kept at all; a forced string never stands alone.
Code keeps whole lines, and a kept header whose body is all dropped gets `...`, so what is kept still
parses. Order, line breaks and indentation are the original's. A threshold instead of a budget keeps
every unit scoring at least the threshold (and the forced ones), and the budget follows the text.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from compress.algorithms.text.units import Unit, units_of
from compress.algorithms.text.words import (
    Words,
    content_words,
    largest_within,
    negations,
    query_words,
    render,
    split_words,
    word_costs,
)
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter

# a unit shortened to fill the budget keeps at least this share of its words (else it goes whole)
MIN_SHARE = 0.5
# ... and at least this many (a unit with fewer words is kept whole or not at all)
MIN_WORDS = 3


@dataclass
class Layout:
    """A text cut into units and words: which unit each word is in, what each word and unit costs in
    the target model's tokens (estimates from one tokenisation; the final count is exact)."""

    text: str
    shape: str
    units: list[Unit]
    words: Words
    unit_of_word: np.ndarray
    word_cost: np.ndarray
    unit_cost: np.ndarray

    @property
    def n_units(self) -> int:
        """How many units the text has."""
        return len(self.units)

    def chain(self, u: int) -> list[int]:
        """Unit `u` and every unit it needs, transitively (a statement, its function's header, the
        class's header above that)."""
        out = [u]
        while self.units[out[-1]].needs is not None:
            out.append(int(self.units[out[-1]].needs))  # type: ignore[arg-type]
        return out

    def words_of(self, u: int) -> np.ndarray:
        """The indices of unit `u`'s words."""
        return np.flatnonzero(self.unit_of_word == u)


def layout(text: str, shape: str, counter: TokenCounter, words: Words | None = None) -> Layout:
    """Units and words of `text` for `shape` (prose, chat, code), with their token costs (`words`: the
    text's words when the caller split them already)."""
    units = units_of(text, shape)
    words = split_words(text) if words is None else words
    starts = np.asarray([u.start for u in units], dtype=np.int64)
    # the unit a word starts in (units cover every non-space character, so every word has one)
    unit_of_word = np.searchsorted(starts, words.starts, side="right") - 1 if len(units) else np.zeros(0, int)
    unit_of_word = np.clip(unit_of_word, 0, max(0, len(units) - 1))
    costs = word_costs(words, counter)
    unit_cost = np.bincount(unit_of_word, weights=costs, minlength=len(units)).astype(np.int64)
    return Layout(text, shape, units, words, unit_of_word, costs, unit_cost)


@dataclass
class Scored:
    """A text's layout and its scores: per unit (what decides which units stay), per word (what a
    shortened unit keeps first), the words of forced strings, and per unit whether it scores anything
    for the question (None: no question, every unit may fill the budget)."""

    lay: Layout
    unit: np.ndarray
    word: np.ndarray
    guard: np.ndarray
    relevant: np.ndarray | None = None

    def forced(self) -> np.ndarray:
        """Per unit: whether it holds a forced string."""
        out = np.zeros(self.lay.n_units, dtype=bool)
        if self.guard.any():
            out[np.unique(self.lay.unit_of_word[self.guard])] = True
        return out

    def order(self) -> np.ndarray:
        """The units best first: forced ones, then by score, ties by position."""
        n = self.lay.n_units
        return np.lexsort((np.arange(n), -np.asarray(self.unit, dtype=np.float64), ~self.forced()))

    def may_fill(self) -> np.ndarray:
        """Per unit: whether it may take the place of a relevant unit that did not fit."""
        rel = np.ones(self.lay.n_units, dtype=bool) if self.relevant is None else self.relevant
        return rel | self.forced()


def word_value(words: Words, query: str | None, base: np.ndarray | None, protect: np.ndarray) -> np.ndarray:
    """Which words a shortened unit keeps first: protected facts, negations (without them a kept
    sentence says the opposite) and the words the question names, then content words, then function
    words; `base` (a model's per-word score, in [0, 1]) orders words within each class, then position
    (earlier first)."""
    n = len(words)
    value = 1.0 * content_words(words) + 2.0 * (protect | negations(words))
    if query:
        value = value + 2.0 * query_words(words, query)
    if base is not None:
        value = value + 0.5 * np.clip(np.asarray(base, dtype=np.float64), 0.0, 1.0)
    return value - 1e-6 * np.arange(n)


def choose(s: Scored, budget: int) -> tuple[np.ndarray, int | None]:
    """Which units to keep whole, best first with the units each needs, within `budget` (estimated
    tokens), and the best unit that did not fit and scores for the question (the frontier, None
    when every such unit fit). After the frontier only units that score for the question are taken."""
    lay = s.lay
    keep = np.zeros(lay.n_units, dtype=bool)
    may_fill = s.may_fill()
    frontier: int | None = None
    used = 0
    for u in s.order().tolist():
        if keep[u]:
            continue
        extra = [v for v in lay.chain(u) if not keep[v]]
        cost = int(lay.unit_cost[extra].sum())
        if used + cost <= budget:
            if frontier is None or may_fill[u]:
                keep[extra] = True
                used += cost
        elif frontier is None and may_fill[u]:
            frontier = u
    return keep, frontier


def above(s: Scored, threshold: float) -> np.ndarray:
    """Threshold mode: every unit scoring at least `threshold` and every forced one, with the units
    each needs."""
    keep = np.zeros(s.lay.n_units, dtype=bool)
    for u in np.flatnonzero((np.asarray(s.unit) >= threshold) | s.forced()).tolist():
        keep[s.lay.chain(u)] = True
    return keep


def _trim(s: Scored, keep: np.ndarray, budget: int, fits: Callable[[np.ndarray], bool]) -> np.ndarray:
    """The kept units, the worst first dropped while the exact count is over `budget` (the estimates
    can fall short): a unit another kept unit needs goes only after it."""
    keep = keep.copy()
    rank = np.empty(s.lay.n_units, dtype=np.int64)
    rank[s.order()] = np.arange(s.lay.n_units)
    while keep.any() and not fits(keep):
        needed = {s.lay.units[v].needs for v in np.flatnonzero(keep).tolist()}
        leaves = [v for v in np.flatnonzero(keep).tolist() if v not in needed]
        keep[max(leaves, key=lambda v: rank[v])] = False
    return keep


def keep_words(
    s: Scored,
    keep: np.ndarray,
    frontier: int | None,
    budget: int | None,
    count: Callable[[str], int],
) -> np.ndarray:
    """The word mask of prose or chat: the kept units' words, then (with a budget) the frontier unit
    shortened into what is left, by the exact count of the rendered text."""
    lay = s.lay
    n = len(lay.words)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if budget is None:  # threshold mode: exactly the kept units
        return keep[lay.unit_of_word]

    def fits(units: np.ndarray) -> bool:
        return count(render(lay.words, units[lay.unit_of_word])) <= budget

    keep = _trim(s, keep, budget, fits)
    mask = keep[lay.unit_of_word]
    if frontier is None or keep[frontier]:
        return mask
    # the units the frontier needs (a speaker's tag, a header) come whole, or the frontier does not come
    needs = [v for v in lay.chain(frontier)[1:] if not keep[v]]
    if needs:
        with_needs = keep.copy()
        with_needs[needs] = True
        if not fits(with_needs):
            return mask
        mask = with_needs[lay.unit_of_word]
    own = lay.words_of(frontier)
    if own.size == 0:
        return mask
    # forced words first, then by value; the largest prefix of that ranking that fits
    ranked = own[np.lexsort((np.arange(own.size), -s.word[own], ~s.guard[own]))]

    def mask_of(k: int) -> np.ndarray:
        m = mask.copy()
        m[ranked[:k]] = True
        return m

    guess = int(np.searchsorted(np.cumsum(lay.word_cost[ranked]), budget - count(render(lay.words, mask))))
    k = largest_within(own.size, guess, lambda k: count(render(lay.words, mask_of(k))), budget)
    floor = min(own.size, max(MIN_WORDS, math.ceil(MIN_SHARE * own.size)))
    if k < floor or k < int(s.guard[own].sum()):
        return mask  # too little would be left of it: it goes whole
    return mask_of(k)


def fill(
    s: Scored, keep: np.ndarray, frontier: int | None, budget: int | None, count: Callable[[str], int]
) -> str:
    """The kept units rendered, the frontier unit shortened into what is left (prose and chat); for
    code, whole lines, trimmed to the budget if the estimate was short."""
    if s.lay.shape == "code":
        return _render_code(s, keep, budget, count)
    return render(s.lay.words, keep_words(s, keep, frontier, budget, count))


def per_document(lay: Layout, mask: np.ndarray, spans: Sequence[tuple[int, int]]) -> list[str]:
    """A word mask over several joined texts rendered back as one text each (`spans`: where each
    text lies in the joined one, from `compress.algorithms.text.units.join_documents`)."""
    out = []
    for a, b in spans:
        lo = int(np.searchsorted(lay.words.starts, a, side="left"))
        hi = int(np.searchsorted(lay.words.starts, b, side="left"))
        out.append(render(split_words(lay.text[a:b]), mask[lo:hi]))
    return out


def _render_code(s: Scored, keep: np.ndarray, budget: int | None, count: Callable[[str], int]) -> str:
    if budget is not None:
        keep = _trim(s, keep, budget, lambda k: count(_code_text(s.lay, k)) <= budget)
    return _code_text(s.lay, keep)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _code_text(lay: Layout, keep: np.ndarray) -> str:
    """Whole lines of the kept units, in order; a kept header with none of its body gets `...` at
    the body's indentation."""
    text = lay.text
    has_child = {lay.units[v].needs for v in np.flatnonzero(keep).tolist()}
    first_child: dict[int, int] = {}
    for i, u in enumerate(lay.units):
        if u.needs is not None and u.needs not in first_child:
            first_child[u.needs] = i
    lines: list[str] = []
    for i in np.flatnonzero(keep).tolist():
        u = lay.units[i]
        lines.append(text[_line_start(text, u.start) : u.end])
        if i in first_child and i not in has_child:
            child = lay.units[first_child[i]]
            start = _line_start(text, child.start)
            lines.append(text[start : child.start] + "...")
    return "\n".join(lines)


def select_text(s: Scored, budget: int | None, threshold: float | None, count: Callable[[str], int]) -> str:
    """The text compressed to `budget` tokens, or (threshold mode) to the units scoring at least
    `threshold`."""
    if threshold is not None:
        return fill(s, above(s, threshold), None, None, count)
    assert budget is not None
    keep, frontier = choose(s, budget)
    return fill(s, keep, frontier, budget, count)


def select_documents(
    s: Scored,
    spans: Sequence[tuple[int, int]],
    budget: int | None,
    threshold: float | None,
    count: Callable[[str], int],
) -> list[str]:
    """Several texts scored as one context (`s` over their join, `spans` where each lies) compressed
    with one shared budget: the units compete across texts, so each text's share follows its relevance;
    a text none of whose units is kept comes back empty."""
    if s.lay.shape == "code":
        raise CompressError(
            "joint compression keeps units across texts and renders them as prose; code keeps whole "
            "statements per file: compress code texts one by one (joint=False)."
        )
    if threshold is not None:
        mask = keep_words(s, above(s, threshold), None, None, count)
    else:
        keep, frontier = choose(s, budget or 0)
        mask = keep_words(s, keep, frontier, budget or 0, count)
    return per_document(s.lay, mask, spans)


def parses(code: str) -> bool:
    """Whether Python code parses."""
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False
