"""Paired comparisons a reviewer expects: a method against a baseline on the same items, the
difference's 95% bootstrap interval, the smallest difference the sample can detect, and whether a
validator favours the head of a text (truncate against tail at the same budget)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from compress.algorithms.metrics.stats import paired_bootstrap
from compress.infra.schemas import Comparison, JudgeBias

# two-sided 5% and 80% power: the usual z_alpha/2 + z_beta of a sample-size calculation
Z_DETECT = 1.959964 + 0.841621
# a validator "favours the head" when truncate beats tail by more than this, interval above 0
HEAD_BIAS_MARGIN = 0.05
# fewer paired items than this decide nothing (the bootstrap interval collapses onto the few there are)
MIN_PAIRED = 10


def min_detectable(diffs: Sequence[float]) -> float:
    """The smallest mean paired difference n items detect at 80% power, two-sided 5% (z * sd / sqrt n).

    With no variation observed (every item the same) the sd is taken as sqrt(3 / n), the rule-of-three
    bound on a proportion never seen; one item detects nothing below the whole scale (1.0)."""
    x = np.asarray(diffs, float)
    n = len(x)
    if n < 2:
        return 1.0
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        sd = math.sqrt(3 / n)
    return min(1.0, Z_DETECT * sd / math.sqrt(n))


def compare(
    method: str,
    baseline: str,
    values: Sequence[float],
    baseline_values: Sequence[float],
    metric: str,
    model: str,
    rate: float | None = None,
    seed: int = 0,
) -> Comparison:
    """`method` against `baseline` on the same items (values paired by position)."""
    a, b = np.asarray(values, float), np.asarray(baseline_values, float)
    lo, hi = paired_bootstrap(list(b), list(a), seed=seed)
    return Comparison(
        method=method,
        baseline=baseline,
        rate=rate,
        metric=metric,
        model=model,
        n=len(a),
        method_mean=float(a.mean()) if len(a) else 0.0,
        baseline_mean=float(b.mean()) if len(b) else 0.0,
        diff=float((a - b).mean()) if len(a) else 0.0,
        ci_low=lo,
        ci_high=hi,
        mde=min_detectable(list(a - b)),
    )


def head_bias(model: str, truncate: Sequence[float], tail: Sequence[float], seed: int = 0) -> JudgeBias:
    """Whether `model`'s equivalence favours the head of a text: truncate against tail at one budget."""
    c = compare("truncate", "tail", truncate, tail, "equivalence", model, seed=seed)
    head, end = c.method_mean, c.baseline_mean
    interval = f"95% CI [{c.ci_low:.2f}, {c.ci_high:.2f}], n={c.n}"
    enough = c.n >= MIN_PAIRED
    if not enough:
        statement = (
            f"{model}: {c.n} samples are too few to tell a head bias (truncate {head:.2f}, tail {end:.2f}; "
            f"{MIN_PAIRED} at least): evaluate more (evaluate.max_samples, data.n_samples)."
        )
    elif c.ci_low > 0 and c.diff >= HEAD_BIAS_MARGIN:
        statement = (
            f"{model} favours the head of a text by {c.diff:.2f} ({interval}): with probes spread evenly "
            f"over the text it scores truncate (keeps the head) {head:.2f} and tail (keeps the end) {end:.2f} "
            "at the same budget. Read its equivalence of head-keeping compressors with that in mind; the "
            "cloze accuracies ask about every part of the text."
        )
    elif c.ci_high < 0 and -c.diff >= HEAD_BIAS_MARGIN:
        statement = (
            f"{model} favours the end of a text by {-c.diff:.2f} ({interval}): tail {end:.2f} against "
            f"truncate {head:.2f} at the same budget."
        )
    else:
        statement = (
            f"{model}: no head bias found: truncate {head:.2f} and tail {end:.2f} at the same budget "
            f"(difference {c.diff:+.2f}, {interval})."
        )
    biased = enough and abs(c.diff) >= HEAD_BIAS_MARGIN and (c.ci_low > 0 or c.ci_high < 0)
    return JudgeBias(
        model=model,
        n=c.n,
        truncate=head,
        tail=end,
        diff=c.diff,
        ci_low=c.ci_low,
        ci_high=c.ci_high,
        biased=biased,
        statement=statement,
    )


def verdict(diff: float, lo: float, hi: float, mde: float, n: int) -> str:
    """A comparison in words: better / worse when the interval excludes 0 on enough items."""
    if n < MIN_PAIRED:
        return f"too few items to decide (n={n} < {MIN_PAIRED})"
    if lo > 0:
        return "better"
    if hi < 0:
        return "worse"
    if abs(diff) < mde:
        return f"no difference found (n detects {mde:.2f} and more)"
    return "undecided"
