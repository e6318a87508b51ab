"""Isotonic calibration of the cheap score against judge verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from compress.algorithms.metrics.calibration import apply, fit


def test_calibration_on_a_known_relation() -> None:
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 1, 200)
    # the judge says yes when the cheap score is above 0.7, with 10% noise
    verdicts = ((scores > 0.7) ^ (rng.uniform(0, 1, 200) < 0.1)).astype(float)
    cal = fit(scores.tolist(), verdicts.tolist())
    assert cal["n"] == 200 and cal["auc"] > 0.8 and cal["spearman"] > 0.5
    assert cal["brier_calibrated_cv"] < cal["brier_raw"]
    low, high = apply(cal, [0.2, 0.95])
    assert low < 0.3 < 0.7 < high


def test_calibration_with_one_verdict_only_says_so() -> None:
    cal = fit([0.1, 0.5, 0.9, 0.3], [1.0, 1.0, 1.0, 1.0])
    assert "note" in cal and "x_thresholds" not in cal
    with pytest.raises(ValueError, match="no fitted map"):
        apply(cal, [0.5])
