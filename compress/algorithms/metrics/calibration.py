"""Isotonic calibration of the cheap equivalence score against the expensive judge's verdict.

Fit on the pairs the judge saw, store with the run, and say how well the cheap score predicts the
judge: Spearman correlation, ROC AUC, and Brier score of the raw score vs the calibrated one
(cross-validated, so the improvement is not an in-sample artefact).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def fit(scores: list[float], verdicts: list[float]) -> dict[str, Any]:
    """Fit the map and measure it; the returned dict is what `calibration.json` holds."""
    from scipy.stats import spearmanr
    from sklearn.isotonic import IsotonicRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import KFold

    x, y = np.asarray(scores, dtype=float), np.asarray(verdicts, dtype=float)
    n = len(x)
    out: dict[str, Any] = {"n": n, "judge_positive_rate": float(y.mean()) if n else 0.0}
    if n < 4 or len(set(y.tolist())) < 2:
        out["note"] = "too few judged pairs, or the judge gave one verdict only: no map fitted"
        return out
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y)
    cv = np.zeros(n)
    folds = KFold(n_splits=min(5, n), shuffle=True, random_state=0)
    for train, test in folds.split(x):
        if len(set(y[train].tolist())) < 2:
            cv[test] = y[train].mean()
            continue
        cv[test] = (
            IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            .fit(x[train], y[train])
            .predict(x[test])
        )
    rho = spearmanr(x, y).statistic
    out.update(
        {
            "x_thresholds": iso.X_thresholds_.tolist(),
            "y_thresholds": iso.y_thresholds_.tolist(),
            "spearman": float(rho) if rho == rho else 0.0,
            "auc": float(roc_auc_score(y, x)),
            "brier_raw": float(np.mean((np.clip(x, 0, 1) - y) ** 2)),
            "brier_calibrated_cv": float(np.mean((cv - y) ** 2)),
        }
    )
    return out


def apply(calibration: dict[str, Any], scores: list[float]) -> list[float]:
    """Map cheap scores to the judge's probability of a yes with a stored calibration."""
    if "x_thresholds" not in calibration:
        raise ValueError("this calibration holds no fitted map (see its 'note')")
    return np.interp(scores, calibration["x_thresholds"], calibration["y_thresholds"]).tolist()
