"""Extractive units and choosing which to keep at a rate."""

from __future__ import annotations

from compress.text.units import select_units, split_units


def test_select_units_meets_the_rate() -> None:
    text = "alpha beta gamma delta epsilon zeta"
    spans = split_units(text, "word")
    assert len(spans) == 6
    kept = select_units(spans, [1, 6, 2, 5, 3, 4], [1] * 6, rate=0.5)
    assert kept == [1, 3, 5]  # the three best, in text order
    assert select_units(spans, [1] * 6, [1] * 6, rate=1.0) == list(range(6))
    lines = split_units("a = 1\n\nb = 2\n", "line")
    assert [("a = 1\n\nb = 2\n")[s:e] for s, e in lines] == ["a = 1\n", "\n", "b = 2\n"]
