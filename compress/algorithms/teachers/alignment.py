"""Aligning an LLM teacher's compressed text back to the original: a word-level keep mask.

As LLMLingua-2 does for GPT-4's deletions: walk the compressed words in order and match each to the
first unused original word ahead of the last match, within a window, exactly after normalising
(case, surrounding punctuation) or fuzzily (a close spelling). What cannot be matched is counted:
`found` is the share of compressed words matched in the original, `invented` the number that were
not (a paraphrase, a reordering that jumps back, a repeat, a new word). Low `found` flags a pair whose
mask does not say what the teacher did; the classifier's `labels` filter drops such pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

import numpy as np

from compress.algorithms.text.words import Words, normalize, split_words


@dataclass(frozen=True)
class Alignment:
    """The keep mask over the original's words and how well the compressed text aligned."""

    keep: np.ndarray
    found: float
    invented: int
    n_compressed: int


def align(original: str | Words, compressed: str, window: int = 40, fuzzy: float = 0.85) -> Alignment:
    """The keep mask of `original`'s words that `compressed` kept, matched in order within `window`
    words after the previous match; `fuzzy` is the least similarity ratio for a near match (words of
    4+ characters; 1.0 = exact only)."""
    words = original if isinstance(original, Words) else split_words(original)
    norm = [normalize(words.word(i)) for i in range(len(words))]
    comp = [normalize(w) for w in compressed.split()]
    keep = np.zeros(len(words), dtype=bool)
    pos = 0
    found = 0
    for c in comp:
        hit = -1
        stop = min(len(norm), pos + window)
        for j in range(pos, stop):
            if not keep[j] and norm[j] == c:
                hit = j
                break
        if hit < 0 and fuzzy < 1.0 and len(c) >= 4:
            best = fuzzy
            for j in range(pos, stop):
                if keep[j] or abs(len(norm[j]) - len(c)) > max(2, len(c) // 3):
                    continue
                r = SequenceMatcher(None, norm[j], c).ratio()
                if r >= best:
                    hit, best = j, r
        if hit >= 0:
            keep[hit] = True
            pos = hit + 1
            found += 1
    return Alignment(keep, found / len(comp) if comp else 1.0, len(comp) - found, len(comp))
