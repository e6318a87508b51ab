"""validate: validators answer probes on original and compressed; every enabled gate, min over models, must pass."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from datasets import Dataset, load_from_disk

from compress.algorithms.metrics import calibration
from compress.algorithms.metrics.gates import (
    answer_all,
    judge_pairs,
    per_model_summary,
    rate_by_model,
    score_pairs,
)
from compress.infra.errors import CompressError
from compress.infra.schemas import VALIDATED_FEATURES
from compress.stages.context import StageContext, routing


def run_validate(ctx: StageContext) -> dict[str, Any]:
    """Validators answer probes on original and compressed; every enabled gate, min over models, must pass.

    Gates: equivalence (the domain metric over answers), facts (atomic facts kept in the text and the
    answers), and, when `validation.judge.models` is set, an LLM judge's verdict. The judge also
    calibrates the cheap equivalence score (isotonic map, stored as `calibration.json`).
    """
    # the held-out split is never looked at here: evaluate reads it from generate's pairs
    held_out = str(ctx.cfg.evaluate.split)
    pairs = load_from_disk(str(ctx.inputs["generate"] / "pairs")).filter(lambda r: r["split"] != held_out)
    if len(pairs) == 0:
        raise CompressError(
            f"validate: every pair is in the held-out split {held_out!r}; give the train split samples "
            "(data.splits, data.n_samples)."
        )
    originals, compressed = list(pairs["original"]), list(pairs["compressed"])
    routed = routing(ctx, originals, list(pairs["domain"]))
    doms, probes = routed.domains, routed.probes
    val = ctx.cfg.validation
    models = [str(m) for m in val.models]
    answers = answer_all(ctx.llm, originals + compressed, probes + probes, val, label="validate")
    scores = score_pairs(originals, compressed, answers, val, doms, probes)
    threshold = float(val.threshold)
    fact_threshold = val.gates.get("facts")
    judge_cfg = val.get("judge")
    judge_models = [str(m) for m in (judge_cfg.models if judge_cfg else [])]
    verdicts: list[list[float]] = [[] for _ in scores]
    unparsed = 0
    if judge_models:
        verdicts, unparsed = judge_pairs(ctx.llm, originals, compressed, judge_cfg)
    rows = []
    for i, (p, s, v) in enumerate(zip(pairs, scores, verdicts, strict=True)):
        failed = []
        if s.min_score < threshold:
            failed.append("equivalence")
        if fact_threshold is not None and s.facts_min < float(fact_threshold):
            failed.append("facts")
        if v and min(v) < float(judge_cfg.threshold):
            failed.append("judge")
        rows.append(
            {
                **p,
                "validator_models": models,
                "model_scores": s.model_scores,
                "min_score": s.min_score,
                "fact_recall": s.fact_recall,
                "model_fact_scores": s.model_fact_scores,
                "facts_min": s.facts_min,
                "judge_models": judge_models,
                "judge_scores": v,
                "judge_min": min(v) if v else -1.0,
                "gates_failed": failed,
                "passed": not failed,
                "answers_original": s.answers_original,
                "answers_compressed": s.answers_compressed,
                "probes": probes[i],
                "probe_parts": routed.parts[i],
            }
        )
    ds = Dataset.from_list(rows, features=VALIDATED_FEATURES)
    ds.save_to_disk(str(ctx.out / "validated"))
    metrics: dict[str, Any] = {
        "pairs": len(ds),
        "threshold": threshold,
        **per_model_summary(models, scores, threshold),
    }
    # per gate, per model: what share of pairs each model alone would let through, and all models together
    gate_rates = {"equivalence": rate_by_model(models, [s.model_scores for s in scores], threshold)}
    if fact_threshold is not None:
        gate_rates["facts"] = rate_by_model(
            models, [s.model_fact_scores for s in scores], float(fact_threshold)
        )
    if judge_models:
        gate_rates["judge"] = rate_by_model(judge_models, verdicts, float(judge_cfg.threshold))
        metrics["judge_unparsed"] = unparsed
        cal = calibration.fit([s.min_score for s in scores], [min(v) for v in verdicts])
        (ctx.out / "calibration.json").write_text(json.dumps(cal, indent=2))
        metrics.update({f"calibration/{k}": v for k, v in cal.items() if isinstance(v, int | float)})
    for gate, rates in gate_rates.items():
        for m, r in rates.items():
            metrics[f"gate_pass_rate/{gate}/{m}"] = r
    metrics["pass_rate_all_gates"] = float(np.mean([not r["gates_failed"] for r in rows])) if rows else 0.0
    metrics["fact_recall_mean"] = float(np.mean([s.fact_recall for s in scores])) if scores else 0.0
    keep = (
        "id",
        "original",
        "compressed",
        "model_scores",
        "fact_recall",
        "model_fact_scores",
        "judge_scores",
        "gates_failed",
        "passed",
        "answers_original",
        "answers_compressed",
    )
    ctx.log.table("pairs", [{k: r[k] for k in keep} for r in rows[:500]])
    ctx.log.table(
        "gates",
        [
            {"gate": g, "model": m, "pass_rate": r}
            for g, rates in gate_rates.items()
            for m, r in rates.items()
        ],
    )
    ctx.log.artifact(ctx.out / "validated", "validated", "dataset")
    return metrics
