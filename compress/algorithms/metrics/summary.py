"""Each method's figures on the held-out samples: its outputs (a `Point`), its cloze blanks graded,
its `MethodSummary`, and the flat metric names of a whole `EvalSummary`."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from compress.algorithms.metrics import cloze
from compress.algorithms.metrics.facts import code_names_kept, kept_by_kind
from compress.algorithms.metrics.gates import PairScore, per_model_summary, question_key
from compress.algorithms.metrics.stats import wilson
from compress.infra.llm.tokens import count_cl100k
from compress.infra.schemas import EvalSummary, MethodSummary

Outputs = list[tuple[str, float]]  # (compressed text, compressor seconds) per sample


class Counts(Protocol):
    """What the summaries need of a token counter (`compress.infra.llm.tokens.TokenCounter` is one)."""

    def count(self, text: str) -> int:
        """The text's tokens."""
        ...


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


def code_parses(originals: list[str], compressed: list[str], doms: list[Any]) -> float | None:
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


def pct(xs: list[float], q: float) -> float:
    """The q-th percentile of `xs` (0.0 when there are none)."""
    return float(np.percentile(xs, q)) if xs else 0.0


@dataclass
class Cloze:
    """Per sample, its blanks; per point and model, which blanks were filled right."""

    items: list[list[cloze.ClozeItem]]
    correct: dict[tuple[str, float | None, str], list[list[bool]]]

    def flat(self, point: Point, model: str) -> list[bool]:
        """Every blank of every sample, right or wrong, in a fixed order (for paired comparisons)."""
        return [ok for per_sample in self.correct[(point.method, point.rate, model)] for ok in per_sample]


def grade_cloze(
    points: list[Point], items: list[list[cloze.ClozeItem]], answers: dict[str, str], models: list[str]
) -> Cloze:
    """Every point's blanks graded against each model's answer (`answers` by `question_key`)."""
    correct: dict[tuple[str, float | None, str], list[list[bool]]] = {}
    for p in points:
        for m in models:
            correct[(p.method, p.rate, m)] = [
                [cloze.grade(it, answers[question_key(m, text, cloze.question(it))]) for it in sample_items]
                for text, sample_items in zip(p.texts, items, strict=True)
            ]
    return Cloze(items, correct)


def cloze_fields(c: Cloze, point: Point, models: list[str]) -> dict[str, Any]:
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


def summarize(
    point: Point,
    originals: list[str],
    scores: list[PairScore],
    models: list[str],
    threshold: float,
    doms: list[Any],
    counter: Counts,
    cloze_figures: dict[str, Any],
) -> MethodSummary:
    """One point's MethodSummary: reductions (target tokens and cl100k), equivalence, pass rate,
    latency, preservation, per-model equivalence and its cloze figures."""
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
        latency_p50_s=pct(lat, 50),
        latency_p95_s=pct(lat, 95),
        worst_model=per_model["worst_model"],
        fact_recall=float(np.mean([s.fact_recall for s in scores])),
        code_parses=code_parses(originals, comp, doms),
        numbers_kept=kept["numbers_kept"],
        identifiers_kept=kept["identifiers_kept"],
        entities_kept=kept["entities_kept"],
        code_names_kept=code_names_kept(originals, comp, [str(d.name) == "code" for d in doms]),
        latency_per_1k_s=1000 * sum(lat) / max(1, sum(o_tok)),
        model_equivalence={m: per_model[f"score_mean/{m}"] for m in models},
        rate=point.rate,
        **cloze_figures,
    )


def summary_metrics(summary: EvalSummary) -> dict[str, Any]:
    """The flat metric names the W&B summary, sweeps (`optimize.metric`) and the report use:
    `<method>/<field>`, `<method>/equivalence/<model>`, `<method>/cloze/<model>`,
    `curve/<method>@<rate>/<field>`, `break_even/<field>`, `task/<task>[@<rate>]/<method>/<model>/<field>`
    (no rate: at the trained compressor's own budget) and `.../by_position/<i>` (needle),
    `compare/<method>-vs-<baseline>[@<rate>]/<metric>/<model>/<field>` (metric `task:<task>` for a gold task)."""
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
        at = "" if t.rate is None else f"@{t.rate:g}"
        for k in ("accuracy", "ci_low", "ci_high", "delta", "delta_ci_low", "delta_ci_high"):
            metrics[f"task/{t.task}{at}/{t.method}/{t.model}/{k}"] = getattr(t, k)
        for i, acc in enumerate(t.by_position):
            metrics[f"task/{t.task}{at}/{t.method}/{t.model}/by_position/{i}"] = acc
    for h in summary.headline:
        at = "" if h.rate is None else f"@{h.rate:g}"
        for k in ("diff", "ci_low", "ci_high", "mde"):
            metrics[f"compare/{h.method}-vs-{h.baseline}{at}/{h.metric}/{h.model}/{k}"] = getattr(h, k)
    return metrics
