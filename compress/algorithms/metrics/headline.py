"""The evaluate summary's headline: which method is compared with which on the held-out samples,
the paired comparisons themselves (`compress.algorithms.metrics.compare`), and the validators' head bias."""

from __future__ import annotations

from compress.algorithms.metrics.compare import compare, head_bias
from compress.algorithms.metrics.gates import PairScore
from compress.algorithms.metrics.summary import Cloze, Point
from compress.infra.schemas import Comparison, JudgeBias

# the baselines every other method is compared with, in the order the headline lists them
REFERENCES = ("identity", "truncate", "selfinfo", "tail", "random")

PointKey = tuple[str, float | None]


def comparison_pairs(keys: list[PointKey]) -> list[tuple[PointKey, PointKey]]:
    """Which point is compared with which: at the trained budget, trained against every other method
    there (the reference baselines first, then the rest: bm25, other runs' compressors) and every other
    baseline against identity, truncate and selfinfo; at each rate, every method against those listed
    before it (trained against all) and against identity."""
    present = set(keys)
    pairs: list[tuple[PointKey, PointKey]] = []
    others = [m for m, r in keys if r is None and m not in ("trained", "teacher", *REFERENCES)]
    for method, rate in keys:
        if rate is not None or method in ("identity", "teacher"):  # the teacher is not at the budget
            continue
        refs = (*REFERENCES, *others) if method == "trained" else REFERENCES[:3]
        pairs += [((method, None), (ref, None)) for ref in refs if ref != method and (ref, None) in present]
    for rate in sorted({r for _, r in keys if r is not None}):
        at = [k for k in keys if k[1] == rate]
        for i, k in enumerate(at):
            pairs += [(k, q) for j, q in enumerate(at) if j != i and (k[0] == "trained" or j < i)]
            if ("identity", None) in present:
                pairs.append((k, ("identity", None)))
    return pairs


def comparisons(
    points: list[Point],
    scores: dict[PointKey, list[PairScore]],
    cz: Cloze | None,
    models: list[str],
    seed: int,
) -> list[Comparison]:
    """Each compressor against each baseline on the same items (`comparison_pairs`): cloze accuracy
    per validator model (per blank) and equivalence (per sample, min over models)."""
    by_key = {(p.method, p.rate): p for p in points}
    rows = []
    for k, q in comparison_pairs(list(by_key)):
        a, b = scores[k], scores[q]
        rows.append(
            compare(
                k[0],
                q[0],
                [s.min_score for s in a],
                [s.min_score for s in b],
                "equivalence",
                "min",
                k[1],
                seed,
            )
        )
        if cz is not None and any(cz.items):
            for m in models:
                rows.append(
                    compare(
                        k[0],
                        q[0],
                        [float(x) for x in cz.flat(by_key[k], m)],
                        [float(x) for x in cz.flat(by_key[q], m)],
                        "cloze",
                        m,
                        k[1],
                        seed,
                    )
                )
    return rows


def judge_bias(scores: dict[PointKey, list[PairScore]], models: list[str], seed: int) -> list[JudgeBias]:
    """Per validator model: does it score truncate (head) above tail (end) at the same budget?"""
    head, end = scores.get(("truncate", None)), scores.get(("tail", None))
    if head is None or end is None:
        return []
    return [
        head_bias(m, [s.model_scores[i] for s in head], [s.model_scores[i] for s in end], seed)
        for i, m in enumerate(models)
    ]
