"""`evaluate` module: the domain equivalence of two texts' answers, and its parts.

predictions: the answers (or texts) obtained from the compressed input; references: from the
original. For `domain="code"` pass `originals` and `compressed` too (the AST part compares them).
Returns the mean `equivalence` and its parts (`cosine`, `jaccard`, `ast`), with per-pair scores.
Each pair is scored by `compress.algorithms.metrics.equivalence.equivalence`, the function the pipeline uses
(so a blank answer scores 0 here too).
"""

from typing import Any

import datasets
import evaluate
import numpy as np

from compress.algorithms.metrics.equivalence import answer_cosine, answer_jaccard, ast_similarity, equivalence

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
        refs, preds = list(references), list(predictions)
        if domain == "code" and (originals is None or compressed is None):
            raise ValueError("domain='code' needs originals= and compressed= for the AST part")
        origs = list(originals) if originals is not None else [""] * len(refs)
        comps = list(compressed) if compressed is not None else [""] * len(refs)
        w = weights or (
            {"ast": 0.5, "semantic": 0.5} if domain == "code" else {"cosine": 0.7, "jaccard": 0.3}
        )
        per = [
            equivalence(domain, w, o, c, [r], [p])
            for o, c, r, p in zip(origs, comps, refs, preds, strict=True)
        ]
        cos = [answer_cosine([r], [p]) for r, p in zip(refs, preds, strict=True)]
        jac = [answer_jaccard([r], [p]) for r, p in zip(refs, preds, strict=True)]
        ast_sim = (
            [ast_similarity(o, c) for o, c in zip(origs, comps, strict=True)] if domain == "code" else []
        )
        return {
            "equivalence": float(np.mean(per)) if per else 0.0,
            "cosine": float(np.mean(cos)) if cos else 0.0,
            "jaccard": float(np.mean(jac)) if jac else 0.0,
            "ast": float(np.mean(ast_sim)) if ast_sim else None,
            "per_pair": per,
        }
