"""The report's tables as dict rows, one function per section, and their markdown form."""

from __future__ import annotations

from typing import Any

from compress.algorithms.metrics.compare import verdict
from compress.infra.schemas import Comparison
from compress.report.runs import RunInfo
from compress.stages import ORDER


def fmt(v: Any) -> str:
    """A cell as the tables print it."""
    if isinstance(v, float):
        # three decimals, but never a small nonzero figure (dollars per 1k tokens) shown as 0.000
        return f"{v:.3f}" if v == 0 or abs(v) >= 0.001 else f"{v:.2e}"
    return str(v)


# per-model and per-part figures have tables of their own
NESTED = {"model_equivalence", "model_cloze", "cloze_by_part"}
PRESERVATION = (
    "fact_recall",
    "numbers_kept",
    "identifiers_kept",
    "entities_kept",
    "code_parses",
    "code_names_kept",
)


def method_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """One row per run and compressor at the trained budget, with the evaluate summary's metric names."""
    rows = []
    for r in runs:
        for m in r.summary.methods:
            rows.append({"run": r.label, **m.model_dump(exclude={"rate", *NESTED, *PRESERVATION})})
    return rows


def preservation_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """What each compressor keeps: facts, numbers, identifiers, entities; for code, parsing and names."""
    return [
        {"run": r.label, "method": m.method, **{k: getattr(m, k) for k in PRESERVATION}}
        for r in runs
        for m in r.summary.methods
    ]


def transfer_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """The transfer matrix: compressor × validator model mean equivalence; `worst` is the headline."""
    models = list(dict.fromkeys(k for r in runs for m in r.summary.methods for k in m.model_equivalence))
    return [
        {
            "run": r.label,
            "method": m.method,
            **{k: m.model_equivalence.get(k) for k in models},
            "worst": min(m.model_equivalence.values()) if m.model_equivalence else None,
            "worst_model": m.worst_model,
        }
        for r in runs
        for m in r.summary.methods
    ]


def _on_tasks(c: Comparison) -> bool:
    return c.metric.startswith("task:")


def headline_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Each compressor against each baseline on the same held-out samples: the paired difference, its
    95% bootstrap interval, n, and the smallest difference that n detects (`detectable`: |diff| >= mde).
    The gold tasks' comparisons have a table of their own (`task_comparison_rows`)."""
    rows = []
    for r in runs:
        for c in r.summary.headline:
            if _on_tasks(c):
                continue
            rows.append(
                {
                    "run": r.label,
                    "method": c.method,
                    "baseline": c.baseline,
                    "rate": "matched" if c.rate is None else c.rate,
                    "metric": c.metric,
                    "model": c.model,
                    "n": c.n,
                    "method_mean": c.method_mean,
                    "baseline_mean": c.baseline_mean,
                    "diff": c.diff,
                    "ci_low": c.ci_low,
                    "ci_high": c.ci_high,
                    "mde": c.mde,
                    "verdict": verdict(c.diff, c.ci_low, c.ci_high, c.mde, c.n),
                }
            )
    # the trained compressor's rows first: they are what a run is for
    return sorted(rows, key=lambda row: row["method"] != "trained")


def judge_bias_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Per validator model: truncate (head) against tail (end) at one budget, and what it means."""
    return [
        {"run": r.label, "model": b.model, "n": b.n, "truncate": b.truncate, "tail": b.tail, "diff": b.diff,
         "ci_low": b.ci_low, "ci_high": b.ci_high, "statement": b.statement}
        for r in runs
        for b in r.summary.judge_bias
    ]  # fmt: skip


def cloze_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Cloze facts per method (worst validator model): accuracy with its Wilson interval, and by the
    part of the text the blank lies in (a head-keeping compressor fails the later parts)."""
    rows = []
    for r in runs:
        for m in [*r.summary.methods, *(c for c in r.summary.curves if c.rate is not None)]:
            if m.cloze_accuracy is None:
                continue
            rows.append(
                {
                    "run": r.label,
                    "method": m.method,
                    "rate": "matched" if m.rate is None else m.rate,
                    "achieved_rate": m.achieved_rate,
                    "n": m.cloze_n,
                    "accuracy": m.cloze_accuracy,
                    "ci_low": m.cloze_ci_low,
                    "ci_high": m.cloze_ci_high,
                    **{f"part {i + 1}": a for i, a in enumerate(m.cloze_by_part)},
                }
            )
    return rows


def curve_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """The rate sweep: each baseline at each requested rate, beside the trained and teacher points."""
    keys = (
        "achieved_rate",
        "token_reduction",
        "equivalence_min",
        "cloze_accuracy",
        "pass_rate",
        "fact_recall",
    )
    return [
        {"run": r.label, "method": c.method, "rate": c.rate, **{k: getattr(c, k) for k in keys}}
        for r in runs
        for c in r.summary.curves
    ]


def break_even_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """When the trained compressor pays for itself against the configured target model."""
    return [{"run": r.label, **r.summary.break_even.model_dump()} for r in runs if r.summary.break_even]


def task_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Gold-answer tasks: accuracy with 95% CIs per budget, method and answering model, change vs the
    original, and (needle) accuracy by the position of the answer-bearing text (`pos 1` first)."""
    n_pos = max((len(t.by_position) for r in runs for t in r.summary.tasks), default=0)
    return [
        {
            "run": r.label,
            "task": t.task,
            "rate": "matched" if t.rate is None else t.rate,
            "method": t.method,
            "model": t.model,
            "n": t.n,
            "accuracy": t.accuracy,
            "ci_low": t.ci_low,
            "ci_high": t.ci_high,
            "delta": t.delta,
            "delta_ci_low": t.delta_ci_low,
            "delta_ci_high": t.delta_ci_high,
            "token_reduction": t.token_reduction,
            **{f"pos {i + 1}": t.by_position[i] if i < len(t.by_position) else None for i in range(n_pos)},
        }
        for r in runs
        for t in r.summary.tasks
    ]


def task_comparison_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """The trained compressor against each baseline on each gold task's questions, at each budget:
    `trained - bm25 at 0.25: +0.120 [+0.010, +0.230]` (paired bootstrap 95% CI), with n and a verdict."""
    rows = []
    for r in runs:
        for c in r.summary.headline:
            if not _on_tasks(c):
                continue
            at = "the trained budget" if c.rate is None else f"{c.rate:g}"
            rows.append(
                {
                    "run": r.label,
                    "task": c.metric.removeprefix("task:"),
                    "model": c.model,
                    "comparison": f"{c.method} - {c.baseline} at {at}: {c.diff:+.3f} "
                    f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}]",
                    "n": c.n,
                    "method_mean": c.method_mean,
                    "baseline_mean": c.baseline_mean,
                    "mde": c.mde,
                    "verdict": verdict(c.diff, c.ci_low, c.ci_high, c.mde, c.n),
                }
            )
    return rows


def run_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """One row per run: validation, training and stage timings."""
    rows = []
    for r in runs:
        v, t = r.stages.get("validate", {}), r.stages.get("train", {})
        rows.append(
            {
                "run": r.label,
                "validate/pass_rate": v.get("pass_rate_all_gates", v.get("pass_rate")),
                "validate/worst_model": v.get("worst_model"),
                "train/loss_last_quarter": t.get("loss_last_quarter"),
                "train/tokens_per_s": t.get("tokens_per_s"),
                **{f"{s}/seconds": r.stages.get(s, {}).get("seconds") for s in ORDER},
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub markdown table of dict rows."""
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def report_tables(runs: list[RunInfo]) -> dict[str, list[dict[str, Any]]]:
    """The report's tables by section title, as dict rows (one place to add a table to every view)."""
    tables = {
        "Headline: paired differences (95% bootstrap CI)": headline_rows(runs),
        "Is the validator biased toward the head of a text?": judge_bias_rows(runs),
        "Compressors at the trained budget": method_rows(runs),
        "Cloze facts (95% Wilson CI), by part of the text": cloze_rows(runs),
        "Transfer: equivalence per validator model": transfer_rows(runs),
        "Preservation": preservation_rows(runs),
        "Rate sweep": curve_rows(runs),
        "Break-even against the target model": break_even_rows(runs),
        "Gold-answer tasks (95% CIs; needle: accuracy by position of the answer's text)": task_rows(runs),
        "Gold-answer tasks: trained against each baseline (paired, 95% bootstrap CI)": task_comparison_rows(
            runs
        ),
        "Runs": run_rows(runs),
    }
    return {k: v for k, v in tables.items() if v}
