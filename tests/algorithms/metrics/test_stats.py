"""Wilson intervals and paired bootstrap intervals on cases with known answers."""

from __future__ import annotations

from compress.algorithms.metrics.stats import paired_bootstrap, wilson


def test_intervals() -> None:
    lo, hi = wilson(8, 10)
    assert 0.44 < lo < 0.5 and 0.94 < hi < 0.97  # the textbook Wilson interval of 8/10
    assert wilson(0, 0) == (0.0, 0.0)
    same = [True, False, True, True]
    assert paired_bootstrap(same, same) == (0.0, 0.0)
    lo, hi = paired_bootstrap([True] * 20, [False] * 20)
    assert lo == hi == -1.0
