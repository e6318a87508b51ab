"""Extractive units (words with their trailing space, or lines) and choosing which to keep."""

from __future__ import annotations

import re

_WORD_UNIT = re.compile(r"\S+\s*")
_LINE_UNIT = re.compile(r"[^\n]*\n|[^\n]+$")


def split_units(text: str, unit: str) -> list[tuple[int, int]]:
    """Character spans of the extractive units (words with their trailing space, or lines)."""
    pattern = _LINE_UNIT if unit == "line" else _WORD_UNIT
    return [m.span() for m in pattern.finditer(text) if m.end() > m.start()]


def select_units(
    spans: list[tuple[int, int]], scores: list[float], costs: list[int], rate: float
) -> list[int]:
    """Indices of the units to keep, in text order: every protected unit (score +inf), then the best
    scored until `rate` of the total cost is kept. Protected units may take the result past the rate."""
    budget = rate * sum(costs)
    kept = [i for i, s in enumerate(scores) if s == float("inf")]
    used = sum(costs[i] for i in kept)
    for i in sorted(range(len(spans)), key=lambda k: -scores[k]):
        if used >= budget:
            break
        if costs[i] == 0 or scores[i] == float("inf"):
            continue
        kept.append(i)
        used += costs[i]
    return sorted(kept)
