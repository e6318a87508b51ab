"""Coarse-to-fine selection: whole units by score within a token budget, then words inside one more
unit only where the budget still has room. Shared by every unit-level compressor (the `selector`
kind, the `bm25` baseline); they differ only in how they score units and words.

A text is cut into units (`compress.algorithms.text.units.units_of`: sentences, speaker turns, code
statements). Units are taken best first, each with the units it needs (a speaker's tag, a function's
header) when they all fit, skipped when they do not (a smaller one further down may); what budget is
left goes to the words of the best unit not taken, best words first (prose and chat only: code keeps
whole lines, and a kept header whose body is all dropped gets `...`, so what is kept still parses).
Order, line breaks and indentation are the original's. A threshold instead of a budget keeps every
unit scoring at least the threshold, and the budget follows the text.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from compress.algorithms.text.units import Unit, units_of
from compress.algorithms.text.words import Words, render, select, split_words, word_costs
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter

# a word's place in the fill ranking: its unit's rank dominates, its own score only orders words
# inside the one unit that is filled word by word
_RANK_SCALE = 4.0


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


def choose(lay: Layout, scores: np.ndarray, budget: int) -> np.ndarray:
    """Which units to keep: best first, each with the units it needs, while they fit in `budget`
    (estimated tokens); a unit that does not fit is skipped, not cut."""
    keep = np.zeros(lay.n_units, dtype=bool)
    used = 0
    for u in np.lexsort((np.arange(lay.n_units), -np.asarray(scores, dtype=np.float64))).tolist():
        if keep[u]:
            continue
        extra = [v for v in lay.chain(u) if not keep[v]]
        cost = int(lay.unit_cost[extra].sum())
        if used + cost <= budget:
            keep[extra] = True
            used += cost
    return keep


def above(lay: Layout, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Threshold mode: every unit scoring at least `threshold`, with the units it needs."""
    keep = np.zeros(lay.n_units, dtype=bool)
    for u in np.flatnonzero(np.asarray(scores) >= threshold).tolist():
        keep[lay.chain(u)] = True
    return keep


def keep_words(
    lay: Layout,
    keep: np.ndarray,
    scores: np.ndarray,
    word_scores: np.ndarray,
    budget: int | None,
    count: Callable[[str], int],
    guard: np.ndarray | None = None,
) -> np.ndarray:
    """The word mask of prose or chat: the kept units' words, then (with a budget) the best units not
    kept, word by word, as many as the budget holds by the exact count of the rendered text."""
    n = len(lay.words)
    guard = np.zeros(n, dtype=bool) if guard is None else guard
    if n == 0 or budget is None:  # threshold mode: exactly the kept units
        return (keep[lay.unit_of_word] | guard) if n else np.zeros(0, dtype=bool)
    # kept units first (best first), then the rest by score: a word's rank is its unit's
    order = np.lexsort((np.arange(lay.n_units), -np.asarray(scores, dtype=np.float64), ~keep))
    rank = np.empty(lay.n_units, dtype=np.float64)
    rank[order] = np.arange(lay.n_units)[::-1]
    ws = np.asarray(word_scores, dtype=np.float64)
    spread = ws.max() - ws.min() if ws.size else 0.0
    within = (ws - ws.min()) / spread if spread > 0 else np.zeros_like(ws)
    key = rank[lay.unit_of_word] * _RANK_SCALE + within
    return select(lay.words, key, guard, budget, count, lay.word_cost)


def fill(
    lay: Layout,
    keep: np.ndarray,
    scores: np.ndarray,
    word_scores: np.ndarray,
    budget: int | None,
    count: Callable[[str], int],
    guard: np.ndarray | None = None,
) -> str:
    """The kept units rendered, with the budget's remainder filled word by word from the best units not
    kept (prose and chat); for code, whole lines, trimmed to the budget if the estimate was short."""
    if lay.shape == "code":
        return _render_code(lay, keep, scores, budget, count)
    return render(lay.words, keep_words(lay, keep, scores, word_scores, budget, count, guard))


def per_document(lay: Layout, mask: np.ndarray, spans: Sequence[tuple[int, int]]) -> list[str]:
    """A word mask over several joined texts rendered back as one text each (`spans`: where each
    text lies in the joined one, from `compress.algorithms.text.units.join_documents`)."""
    out = []
    for a, b in spans:
        lo = int(np.searchsorted(lay.words.starts, a, side="left"))
        hi = int(np.searchsorted(lay.words.starts, b, side="left"))
        out.append(render(split_words(lay.text[a:b]), mask[lo:hi]))
    return out


def _render_code(
    lay: Layout, keep: np.ndarray, scores: np.ndarray, budget: int | None, count: Callable[[str], int]
) -> str:
    keep = keep.copy()
    text = _code_text(lay, keep)
    # the estimate can fall short of the exact count: drop the worst kept unit nothing else needs
    while budget is not None and keep.any() and count(text) > budget:
        needed = {lay.units[v].needs for v in np.flatnonzero(keep).tolist()}
        leaves = [v for v in np.flatnonzero(keep).tolist() if v not in needed]
        keep[min(leaves, key=lambda v: (scores[v], -v))] = False
        text = _code_text(lay, keep)
    return text


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


@dataclass
class Scored:
    """A text's layout and its scores: per unit (what decides which units stay), per word (what orders
    the words of the unit filled word by word) and the words that must stay whatever they score."""

    lay: Layout
    unit: np.ndarray
    word: np.ndarray
    guard: np.ndarray


def select_text(s: Scored, budget: int | None, threshold: float | None, count: Callable[[str], int]) -> str:
    """The text compressed to `budget` tokens, or (threshold mode) to the units scoring at least
    `threshold`."""
    if threshold is not None:
        return fill(s.lay, above(s.lay, s.unit, threshold), s.unit, s.word, None, count, s.guard)
    assert budget is not None
    return fill(s.lay, choose(s.lay, s.unit, budget), s.unit, s.word, budget, count, s.guard)


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
    keep = above(s.lay, s.unit, threshold) if threshold is not None else choose(s.lay, s.unit, budget or 0)
    mask = keep_words(s.lay, keep, s.unit, s.word, None if threshold is not None else budget, count, s.guard)
    return per_document(s.lay, mask, spans)


def parses(code: str) -> bool:
    """Whether Python code parses."""
    try:
        ast.parse(code)
        return True
    except (SyntaxError, ValueError):
        return False


def unit_scores_from_words(
    lay: Layout, word_scores: Sequence[float] | np.ndarray, how: str = "mean"
) -> np.ndarray:
    """Per unit, the mean (or max) of its words' scores (a unit with no word: 0)."""
    ws = np.asarray(word_scores, dtype=np.float64)
    if how == "max":
        out = np.full(lay.n_units, -np.inf)
        np.maximum.at(out, lay.unit_of_word, ws)
        return np.where(np.isfinite(out), out, 0.0)
    total = np.bincount(lay.unit_of_word, weights=ws, minlength=lay.n_units)
    k = np.bincount(lay.unit_of_word, minlength=lay.n_units)
    return np.where(k > 0, total / np.maximum(k, 1), 0.0)
