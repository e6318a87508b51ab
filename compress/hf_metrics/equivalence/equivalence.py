"""`evaluate` module: the domain equivalence of two texts' answers, and its parts.

predictions: the answers (or texts) obtained from the compressed input; references: from the
original. For `domain="code"` pass `originals` and `compressed` too (the AST part compares them).
Returns the mean `equivalence` and its parts (`cosine`, `jaccard`, `ast`), with per-pair scores.
"""

from typing import Any

import datasets
import evaluate
import numpy as np

from compress.metrics import ast_similarity, cosine_pairs, jaccard

_DESCRIPTION = __doc__
_KWARGS = """
Args:
    predictions (list of str): answers on the compressed input.
    references (list of str): answers on the original input.
    domain (str): "nl", "memory" or "code".
    weights (dict): metric weights, default NL 0.7 cosine + 0.3 Jaccard; code 0.5 AST + 0.5 semantic.
    originals, compressed (list of str): the inputs themselves, for the code domain's AST part.
Returns:
    equivalence (float), cosine (float), jaccard (float), ast (float or None), per_pair (list of float)
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class Equivalence(evaluate.Metric):
    """Cosine of bundled MiniLM embeddings, word Jaccard and AST similarity, weighted by domain."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(
        self,
        predictions: list[str],
        references: list[str],
        domain: str = "nl",
        weights: dict[str, float] | None = None,
        originals: list[str] | None = None,
        compressed: list[str] | None = None,
    ) -> dict[str, Any]:
        cos = np.array(cosine_pairs(list(references), list(predictions)))
        jac = np.array([jaccard(r, p) for r, p in zip(references, predictions, strict=True)])
        if domain == "code":
            if originals is None or compressed is None:
                raise ValueError("domain='code' needs originals= and compressed= for the AST part")
            w = weights or {"ast": 0.5, "semantic": 0.5}
            ast_sim = np.array([ast_similarity(o, c) for o, c in zip(originals, compressed, strict=True)])
            per = w["ast"] * ast_sim + w["semantic"] * cos
            ast_mean = float(ast_sim.mean()) if len(ast_sim) else 0.0
        else:
            w = weights or {"cosine": 0.7, "jaccard": 0.3}
            per = w["cosine"] * cos + w["jaccard"] * jac
            ast_mean = None
        return {
            "equivalence": float(per.mean()) if len(per) else 0.0,
            "cosine": float(cos.mean()) if len(cos) else 0.0,
            "jaccard": float(jac.mean()) if len(jac) else 0.0,
            "ast": ast_mean,
            "per_pair": per.tolist(),
        }
