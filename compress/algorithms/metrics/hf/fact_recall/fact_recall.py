"""`evaluate` module: share of the reference's atomic facts (numbers, identifiers, named entities,
quoted strings) that the prediction still states, as `compress.algorithms.metrics.facts.fact_recall`."""

from typing import Any

import datasets
import evaluate
import numpy as np

from compress.algorithms.metrics.facts import fact_recall

_KWARGS = """
Args:
    predictions (list of str): compressed texts (or answers on them).
    references (list of str): the originals (or answers on them).
Returns:
    fact_recall (float): mean share of facts kept; per_pair (list of float).
"""


@evaluate.utils.file_utils.add_start_docstrings(__doc__, _KWARGS)
class FactRecall(evaluate.Metric):
    """Atomic-fact recall of compressed texts."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=__doc__ or "",
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions: list[str], references: list[str]) -> dict[str, Any]:
        per = np.array([fact_recall(r, p) for r, p in zip(references, predictions, strict=True)])
        return {"fact_recall": float(per.mean()) if len(per) else 0.0, "per_pair": per.tolist()}
