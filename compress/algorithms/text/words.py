"""Words of a text, shared by the classifier's labels and its inference: spans, protection, rendering
and selection to a token budget.

A word is a maximal run of non-space characters (punctuation stays with its word); what lies between
words is whitespace. Rendering the kept words keeps their order, the newlines between them and the
indentation of every line whose words are kept, so kept code lines stay as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from compress.algorithms.text.patterns import protected_spans
from compress.infra.llm.tokens import TokenCounter

_WORD = re.compile(r"\S+")
_ALNUM = re.compile(r"[A-Za-z0-9_]+")
_EDGE = re.compile(r"^\W+|\W+$")
# words a question names that say nothing about which words of the text it needs
_STOP = frozenset(
    re.findall(
        r"\w+",
        "the a an and or of to in on at for by with from as is are was were be been what which who whom whose "
        "when where why how does do did can could should would will this that these those it its about into "
        "than then there their they them text say says said tell any some all not no yes",
    )
)


@dataclass(frozen=True)
class Words:
    """The words of `text` as character spans, with what rendering needs: the whitespace before each
    word, whether it opens a line, the line it is on and that line's indentation."""

    text: str
    starts: np.ndarray
    ends: np.ndarray
    gaps: list[str]
    opens_line: np.ndarray
    line: np.ndarray
    indent: list[str]

    def __len__(self) -> int:
        return len(self.gaps)

    def word(self, i: int) -> str:
        """The i-th word."""
        return self.text[int(self.starts[i]) : int(self.ends[i])]


def split_words(text: str) -> Words:
    """The words of `text` (runs of non-space characters) and their layout."""
    spans = [m.span() for m in _WORD.finditer(text)]
    starts = np.fromiter((s for s, _ in spans), dtype=np.int64, count=len(spans))
    ends = np.fromiter((e for _, e in spans), dtype=np.int64, count=len(spans))
    gaps = [text[(int(ends[i - 1]) if i else 0) : int(starts[i])] for i in range(len(spans))]
    opens = np.array([i == 0 or "\n" in g for i, g in enumerate(gaps)], dtype=bool)
    line = np.cumsum([g.count("\n") for g in gaps], dtype=np.int64) if gaps else np.zeros(0, np.int64)
    indent: list[str] = []
    current = ""
    for i, g in enumerate(gaps):
        if opens[i]:
            current = g.rsplit("\n", 1)[-1]
        indent.append(current)
    return Words(text, starts, ends, gaps, opens, line, indent)


def render(words: Words, keep: np.ndarray | Sequence[bool]) -> str:
    """The kept words in order: words on one line joined by the whitespace before each, a line break
    (and the line's indentation) wherever the kept words cross one, blank lines kept where a kept
    word opens a line after them. Leading indentation of the first kept line stays; trailing space goes."""
    idx = np.flatnonzero(np.asarray(keep, dtype=bool))
    if idx.size == 0:
        return ""
    text, gaps, indent = words.text, words.gaps, words.indent
    parts: list[str] = []
    prev = -1
    for i in idx.tolist():
        if prev < 0:
            parts.append(indent[i] if words.opens_line[i] else "")
        elif words.line[i] == words.line[prev] or words.opens_line[i]:
            parts.append(gaps[i])
        else:  # the start of this word's line was dropped: break the line, keep its indentation
            parts.append("\n" + indent[i])
        parts.append(text[int(words.starts[i]) : int(words.ends[i])])
        prev = i
    return "".join(parts).rstrip()


def normalize(word: str) -> str:
    """A word compared across texts: lower case, surrounding punctuation stripped."""
    core = _EDGE.sub("", word.lower())
    return core or word.lower()


def query_terms(query: str | None) -> set[str]:
    """The words a question names (normalised; short and function words left out)."""
    return {w for w in (normalize(q) for q in (query or "").split()) if len(w) >= 3 and w not in _STOP}


def query_words(words: Words, query: str) -> np.ndarray:
    """Which words of the text a question names (the same word, normalised; short and function words
    left out): what a question-aware compressor should keep."""
    named = query_terms(query)
    return np.array([normalize(words.word(i)) in named for i in range(len(words))], dtype=bool)


# a shortened sentence that loses one of these says the opposite ("It does sort the list")
_NEGATION = frozenset(["not", "no", "never", "nor", "none", "nothing", "neither", "without", "cannot"])


def negations(words: Words) -> np.ndarray:
    """Which words negate (`not`, `never`, `cannot`, a `n't` contraction...)."""
    return np.array(
        [
            (w := normalize(words.word(i))) in _NEGATION or w.endswith("n't") or w.endswith("n\u2019t")
            for i in range(len(words))
        ],
        dtype=bool,
    )


def content_words(words: Words) -> np.ndarray:
    """Which words carry content: a letter or digit, and not a function word."""
    return np.array(
        [
            bool(_ALNUM.search(w)) and normalize(w) not in _STOP
            for w in (words.word(i) for i in range(len(words)))
        ],
        dtype=bool,
    )


def overlapping(words: Words, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """Which words overlap any of the character spans (a span inside a word marks the whole word)."""
    mask = np.zeros(len(words), dtype=bool)
    for a, b in spans:
        if b <= a:
            continue
        lo = int(np.searchsorted(words.ends, a, side="right"))
        hi = int(np.searchsorted(words.starts, b, side="left"))
        mask[lo:hi] = True
    return mask


def inside(words: Words, spans: Iterable[tuple[int, int]]) -> np.ndarray:
    """Which words lie within the kept character spans (an extractive teacher's kept units)."""
    mask = np.zeros(len(words), dtype=bool)
    for a, b in spans:
        lo = int(np.searchsorted(words.starts, a, side="left"))
        hi = int(np.searchsorted(words.ends, b, side="right"))
        mask[lo:hi] = True
    return mask


def protected(
    words: Words, kinds: Sequence[str], patterns: Sequence[str], force_tokens: Sequence[str] = ()
) -> np.ndarray:
    """Words that must survive: those overlapping a protected fact kind (numbers, identifiers, ...), a
    domain pattern (multiline regex) or any occurrence of a forced string. Protection is by whole
    words, so a protected span never comes out as a fragment glued to its neighbours."""
    spans = protected_spans(words.text, list(kinds), list(patterns))
    for s in force_tokens:
        if s:
            spans += [m.span() for m in re.finditer(re.escape(s), words.text)]
    return overlapping(words, spans)


def token_words(words: Words, token_starts: np.ndarray) -> np.ndarray:
    """The word each token belongs to, from the tokens' start offsets (-1 for a token before any word)."""
    return np.searchsorted(words.starts, token_starts, side="right") - 1


def word_costs(words: Words, counter: TokenCounter) -> np.ndarray:
    """Target-model tokens of each word: the text's tokens assigned to the word they start in (a
    token starting in whitespace goes to the next word). Estimates; the final count is exact."""
    n = len(words)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = counter.token_starts(words.text)
    if offsets is None:  # no offsets (a counting API): each word on its own
        return np.array([max(1, counter.count(" " + words.word(i))) for i in range(n)], dtype=np.int64)
    starts = np.asarray(offsets, dtype=np.int64)
    # whitespace before a word belongs to it: shift each token start to the next word start
    idx = np.searchsorted(words.starts, starts, side="left")
    in_word = token_words(words, starts)
    inside_word = (in_word >= 0) & (starts < words.ends[np.clip(in_word, 0, n - 1)])
    owner = np.where(inside_word, in_word, np.minimum(idx, n - 1))
    return np.bincount(owner, minlength=n).astype(np.int64)


def largest_within(n: int, guess: int, cost: Callable[[int], int], budget: int, lo_bound: int = 0) -> int:
    """The largest k in [lo_bound, n] with cost(k) <= budget (lo_bound if none), for a cost that grows
    with k, searched from a close `guess`: gallop outward from it, then bisect. A good guess costs a
    few evaluations of `cost` (each a tokenisation of the rendered text)."""
    k = min(n, max(lo_bound, guess))
    memo: dict[int, int] = {}

    def fits(j: int) -> bool:
        if j not in memo:
            memo[j] = cost(j)
        return memo[j] <= budget

    # gallop from the guess to a bracket lo (fits) < hi (does not), then bisect
    step = 1
    if fits(k):
        lo, hi = k, n + 1
        while lo < n:
            j = min(n, lo + step)
            if not fits(j):
                hi = j
                break
            lo, step = j, step * 2
        if hi > n:
            return lo
    else:
        lo, hi = lo_bound - 1, k
        while hi > lo_bound:
            j = max(lo_bound, hi - step)
            if fits(j):
                lo = j
                break
            hi, step = j, step * 2
        if lo < lo_bound:
            return lo_bound
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo


def select(
    words: Words,
    scores: np.ndarray,
    guard: np.ndarray,
    budget: int,
    count: Callable[[str], int],
    costs: np.ndarray,
) -> np.ndarray:
    """The keep mask that holds the guarded words and then the best-scored ones, as many as fit in
    `budget` tokens of the rendered text (by `count`): the largest such prefix of the ranking, so the
    result lands within one word of the budget. Guarded words stay even past the budget."""
    n = len(words)
    if n == 0:
        return np.zeros(0, dtype=bool)
    # guarded first, then by score (higher first), ties by position: a stable, deterministic ranking
    key = np.where(guard, np.inf, np.asarray(scores, dtype=np.float64))
    order = np.lexsort((np.arange(n), -key))
    n_guard = int(guard.sum())
    ranked_costs = np.cumsum(costs[order])
    guess = int(np.searchsorted(ranked_costs, budget, side="right"))

    def mask_of(k: int) -> np.ndarray:
        m = np.zeros(n, dtype=bool)
        m[order[:k]] = True
        return m

    k = largest_within(n, guess, lambda k: count(render(words, mask_of(k))), budget, lo_bound=n_guard)
    return mask_of(k)


def jaccard(a: str, b: str) -> float:
    """Jaccard overlap of lower-cased word sets; two empty texts are identical (1.0)."""
    sa, sb = {w.lower() for w in _ALNUM.findall(a)}, {w.lower() for w in _ALNUM.findall(b)}
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)
