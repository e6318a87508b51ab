"""The four stages. Each reads its inputs' dirs, writes HF datasets into `ctx.out` and returns metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from datasets import Dataset, concatenate_datasets, load_from_disk

from compress.backends import get_backend
from compress.domains import sub_domain
from compress.errors import CompressError
from compress.llm.client import LLMSession
from compress.probes import answer_all, per_model_summary, score_pairs
from compress.schemas import (
    PAIR_FEATURES,
    TRAIN_LOG_FEATURES,
    VALIDATED_FEATURES,
    EvalSummary,
)
from compress.tokens import TokenCounter
from compress.tracking import StageLogger

ORDER = ["generate", "validate", "train", "evaluate"]


@dataclass
class StageContext:
    """What a stage gets: the job config, its output dir, upstream outputs, the cache and its logger."""

    cfg: Any
    out: Path
    inputs: dict[str, Path]
    cache: Path
    log: StageLogger
    llm: LLMSession


def target_counter(ctx: StageContext) -> TokenCounter:
    """Token counts by `tokens.model`'s (default: the first validator's) own tokenizer where it can be had."""
    tokens = ctx.cfg.get("tokens") or {}
    return TokenCounter(
        str(tokens.get("model") or ctx.cfg.validation.models[0]),
        ctx.cache,
        calls=ctx.llm.cache,
        count_api=bool(tokens.get("count_api", True)),
        max_retries=int(ctx.cfg.llm.max_retries),
    )


def run_generate(ctx: StageContext) -> dict[str, Any]:
    """Sample the corpus and let the teacher compress each sample -> `pairs`."""
    from compress.corpora import load_samples
    from compress.teachers import make_teacher

    samples = load_samples(ctx.cfg.data, str(ctx.cfg.domain.name))
    augment = _augment(ctx, samples)
    if augment:
        samples = concatenate_datasets(
            [samples, Dataset.from_list(augment.pop("rows"), features=samples.features)]
        )
    teacher = make_teacher(ctx.cfg, ctx.cache, ctx.llm)
    outs = teacher(list(samples["text"]), [sub_domain(ctx.cfg.domain, d) for d in samples["domain"]])
    counter = target_counter(ctx)
    counter.prefetch([*samples["text"], *(o.compressed for o in outs)])
    rows = []
    for s, o in zip(samples, outs, strict=True):
        rows.append(
            {
                "id": s["id"],
                "domain": s["domain"],
                "source": s["source"],
                "split": s["split"],
                "original": s["text"],
                "compressed": o.compressed,
                "teacher": teacher.name,
                "original_tokens": counter.count(s["text"]),
                "compressed_tokens": counter.count(o.compressed),
                "teacher_seconds": o.seconds,
            }
        )
    ds = Dataset.from_list(rows, features=PAIR_FEATURES)
    ds.save_to_disk(str(ctx.out / "pairs"))
    target = ctx.cfg.teacher.get("target_tokens")
    requested = [
        min(1.0, int(target) / max(1, r["original_tokens"])) if target else float(ctx.cfg.teacher.rate)
        for r in rows
    ]
    orig, comp = sum(ds["original_tokens"]), sum(ds["compressed_tokens"])
    splits = list(ds["split"])
    metrics = {
        "samples": len(ds),
        "requested_rate": float(np.mean(requested)),
        "achieved_rate": comp / max(1, orig),
        # per sample, how far the teacher landed from what was asked (protected spans can push it up)
        "rate_abs_error_mean": float(
            np.mean(
                [
                    abs(c / max(1, o) - r)
                    for o, c, r in zip(ds["original_tokens"], ds["compressed_tokens"], requested, strict=True)
                ]
            )
        ),
        "original_tokens": orig,
        "compressed_tokens": comp,
        "tokenizer": counter.name,
        "teacher_seconds_p50": float(np.percentile(list(ds["teacher_seconds"]), 50)),
        **(augment or {}),
        **{f"split/{k}": splits.count(k) for k in ("train", "val", "test")},
    }
    ctx.log.table("pairs", rows[:200])
    ctx.log.artifact(ctx.out / "pairs", "pairs", "dataset", {"features": list(PAIR_FEATURES)})
    return metrics


def _augment(ctx: StageContext, samples: Dataset) -> dict[str, Any] | None:
    """Seed amplification of the train split when `data.augment_factor` > 0; None otherwise."""
    from compress.amplify import amplify

    factor = int(ctx.cfg.data.get("augment_factor") or 0)
    if factor <= 0:
        return None
    model = ctx.cfg.data.get("augment_model") or (
        ctx.cfg.teacher.model if ctx.cfg.teacher.kind == "llm" else None
    )
    if not model:
        raise CompressError(
            "data.augment_factor needs an LLM to write new inputs: set data.augment_model (e.g. local/gemma3-270m "
            "or anthropic/claude-sonnet-4-5) or use an llm teacher."
        )
    seeds = [r for r in samples if r["split"] == "train"]
    out = amplify(
        ctx.llm,
        seeds,
        factor,
        str(model),
        float(ctx.cfg.data.get("augment_temperature", 0.8)),
        int(ctx.cfg.data.get("augment_max_tokens", 512)),
    )
    return {
        "rows": out.rows,
        "augment/requested": out.requested,
        "augment/kept": len(out.rows),
        "augment/duplicates": out.duplicates,
        "augment/empty": out.empty,
    }


def routing(ctx: StageContext, sample_domains: list[str]) -> tuple[list[Any], list[list[str]]]:
    """Each sample's domain settings and its probe tasks (the first `validation.n_probes` of its domain)."""
    doms = [sub_domain(ctx.cfg.domain, d) for d in sample_domains]
    probes = [list(d.probes)[: int(ctx.cfg.validation.n_probes)] for d in doms]
    if not all(probes):
        raise CompressError(
            "validation.n_probes must be at least 1 and every domain's probes list must not be empty."
        )
    return doms, probes


def run_validate(ctx: StageContext) -> dict[str, Any]:
    """Validators answer probes on original and compressed; every enabled gate, min over models, must pass.

    Gates: equivalence (the domain metric over answers), facts (atomic facts kept in the text and the
    answers), and, when `validation.judge.models` is set, an LLM judge's verdict. The judge also
    calibrates the cheap equivalence score (isotonic map, stored as `calibration.json`).
    """
    from compress import calibration
    from compress.probes import judge_pairs, rate_by_model

    pairs = load_from_disk(str(ctx.inputs["generate"] / "pairs"))
    originals, compressed = list(pairs["original"]), list(pairs["compressed"])
    doms, probes = routing(ctx, list(pairs["domain"]))
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
    for p, s, v in zip(pairs, scores, verdicts, strict=True):
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


def run_train(ctx: StageContext) -> dict[str, Any]:
    """LoRA-train the compressor on the train split, weighted by validation outcome -> adapter + `train_log`."""
    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    w = ctx.cfg.train.weights
    rows = [
        {
            "original": r["original"],
            "compressed": r["compressed"],
            "weight": float(w.passed if r["passed"] else w.failed),
        }
        for r in validated
        if r["split"] == "train"
    ]
    if not any(r["weight"] > 0 for r in rows):
        raise CompressError(
            f"train: none of the {len(rows)} train-split pairs has weight > 0 (passed: "
            f"{sum(1 for r in validated if r['split'] == 'train' and r['passed'])}). Lower validation.threshold, "
            "give failed pairs weight with train.weights.failed=1, or add samples (data.n_samples)."
        )
    backend = get_backend(str(ctx.cfg.backend.name))
    result = backend.train(ctx.cfg, rows, ctx.out, ctx.cache, lambda m, step: ctx.log.log(m, step=step))
    Dataset.from_list(result["history"], features=TRAIN_LOG_FEATURES).save_to_disk(str(ctx.out / "train_log"))
    ctx.log.artifact(ctx.out / "adapter", "adapter", "model", {"backend": str(ctx.cfg.backend.name)})
    if ctx.cfg.train.get("export"):  # merged model / GGUF LoRA into train/export (see compress.export)
        from compress.export import export_all

        done = export_all(ctx.out / "adapter", ctx.out / "export", list(ctx.cfg.train.export), ctx.cache)
        result["metrics"].update({f"export_{k}": str(v.relative_to(ctx.out)) for k, v in done.items()})
    weights = [r["weight"] for r in rows]
    return {
        **result["metrics"],
        "weighted_rows": sum(1 for x in weights if x > 0),
        "weight_mean": float(np.mean(weights)),
    }


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """The evaluate stage (see compress.evaluation)."""
    from compress.evaluation import run_evaluate as evaluate

    return evaluate(ctx)


STAGES: dict[str, Callable[[StageContext], dict[str, Any]]] = {
    "generate": run_generate,
    "validate": run_validate,
    "train": run_train,
    "evaluate": run_evaluate,
}


def read_summary(run_dir: Path) -> EvalSummary:
    """The evaluation summary of a run dir."""
    return EvalSummary.model_validate(json.loads((run_dir / "evaluate" / "summary.json").read_text()))
