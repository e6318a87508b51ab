"""The tables a run prints when it ends: its stages, and the evaluation's compressors."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from compress.algorithms.metrics.compare import MIN_PAIRED, verdict
from compress.algorithms.metrics.gold_runner import KEPT
from compress.infra.console import console
from compress.infra.schemas import Comparison, EvalSummary, StageRecord
from compress.stages.context import read_summary

# the grades that read no answer, in words
CHECKS = {
    KEPT: "the answer kept in the context",
    "evidence_kept": "every evidence turn kept whole",
    "function_kept": "every evidence function kept whole",
    "def_kept": "the function's def line kept",
    "parses": "the compressed code still parses",
    "imports_kept": "every import the kept code reads kept",
}


def print_run(records: dict[str, StageRecord], run_dir: Path) -> None:
    """Each stage's time and fingerprint; then, when the evaluate stage finished, every compressor's figures."""
    table = Table(title=f"run {run_dir}")
    for col in ("stage", "seconds", "fingerprint"):
        table.add_column(col)
    for name, rec in records.items():
        table.add_row(name, f"{rec.seconds:.1f}", rec.fingerprint)
    console.print(table)
    if not (run_dir / "evaluate" / "summary.json").is_file():
        return
    s = read_summary(run_dir)
    for line in in_plain_words(s):
        console.print(line, highlight=False)
    t = Table(
        title=f"evaluation (tokens: {s.tokenizer}; equivalence: min over {', '.join(s.validator_models)})"
    )
    for col in (
        "method",
        "n",
        "reduction",
        "reduction cl100k",
        "equiv (min)",
        "pass rate",
        "facts kept",
        "cloze (95% CI)",
        "p50 s",
        "p95 s",
        "worst model",
    ):
        t.add_column(col)
    for m in s.methods:
        t.add_row(
            m.method,
            str(m.n),
            f"{m.token_reduction:.1%}",
            f"{m.token_reduction_cl100k:.1%}",
            f"{m.equivalence_min:.3f}",
            f"{m.pass_rate:.0%}",
            f"{m.fact_recall:.0%}",
            "-"
            if m.cloze_accuracy is None
            else f"{m.cloze_accuracy:.2f} [{m.cloze_ci_low:.2f}, {m.cloze_ci_high:.2f}]",
            f"{m.latency_p50_s:.2f}",
            f"{m.latency_p95_s:.2f}",
            m.worst_model,
        )
    console.print(t)
    mine = [c for c in s.headline if c.method == "trained" and c.n >= MIN_PAIRED]
    few = sum(1 for c in s.headline if c.method == "trained" and c.n < MIN_PAIRED)
    if few:
        console.print(
            f"{few} comparisons on fewer than {MIN_PAIRED} items are left out here (summary.json and "
            "the report have them): too few held-out samples to decide (evaluate.max_samples, data.n_samples).",
            highlight=False,
        )
    if mine:
        h = Table(
            title="trained against each baseline on the same items (paired difference, 95% bootstrap CI)"
        )
        for col in ("baseline", "rate", "metric", "model", "n", "diff", "95% CI", "detects", "verdict"):
            h.add_column(col)
        for c in mine:
            h.add_row(
                c.baseline,
                "matched" if c.rate is None else f"{c.rate:g}",
                c.metric,
                c.model,
                str(c.n),
                f"{c.diff:+.3f}",
                f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}]",
                f"{c.mde:.3f}",
                verdict(c.diff, c.ci_low, c.ci_high, c.mde, c.n),
            )
        console.print(h)
    if s.tasks:
        g = Table(
            title="gold-answer tasks (accuracy, 95% Wilson CI; change against the original context; "
            "needle: accuracy by position of the answer's text, first first)"
        )
        for col in (
            "task",
            "rate",
            "method",
            "model",
            "n",
            "accuracy",
            "95% CI",
            "change",
            "change CI",
            "by position",
        ):
            g.add_column(col)
        for r in s.tasks:
            g.add_row(
                r.task, "matched" if r.rate is None else f"{r.rate:g}", r.method, r.model, str(r.n),
                f"{r.accuracy:.2f}", f"[{r.ci_low:.2f}, {r.ci_high:.2f}]",
                f"{r.delta:+.2f}", f"[{r.delta_ci_low:+.2f}, {r.delta_ci_high:+.2f}]",
                " ".join("-" if a is None else f"{a:.2f}" for a in r.by_position),
            )  # fmt: skip
        console.print(g)
    for b in s.judge_bias:
        console.print(f"[bold]{'head bias' if b.biased else 'judge'}:[/] {b.statement}")


def _metric(c: Comparison) -> str:
    if c.metric.startswith("task:"):
        grader = CHECKS.get(c.model, f"{c.model}'s answers")
        return f"{c.metric.removeprefix('task:')}, {grader}"
    if c.metric == "equivalence":
        return "held-out probes' equivalence (min over validators)"
    return f"cloze blanks, {c.model}'s answers"


def in_plain_words(s: EvalSummary) -> list[str]:
    """What the trained compressor did against the baselines, in words, where the items were enough to
    decide (the paired comparisons with at least `MIN_PAIRED` items): one line per metric and budget."""
    decided = [c for c in s.headline if c.method == "trained" and c.n >= MIN_PAIRED]
    if not decided:
        return [
            "In plain words: no comparison of the trained compressor had enough items to decide "
            f"({MIN_PAIRED} at least); add held-out samples or a gold task (evaluate.tasks=[cloze,needle])."
        ]
    groups: dict[tuple[str, str, float | None], list[Comparison]] = {}
    for c in decided:
        groups.setdefault((c.metric, c.model, c.rate), []).append(c)
    lines = ["In plain words (the trained compressor against each baseline on the same items, 95% CIs):"]
    # the comparisons on the most items first: they decide the most
    for (_, _, rate), cs in sorted(groups.items(), key=lambda kv: -kv[1][0].n):
        at = "at the trained budget" if rate is None else f"at rate {rate:g} ({1 / rate:.2g}x)"
        parts = []
        for c in cs:
            word = verdict(c.diff, c.ci_low, c.ci_high, c.mde, c.n)
            figures = f"{c.method_mean:.2f} vs {c.baseline_mean:.2f}, {c.diff:+.2f} [{c.ci_low:+.2f}, {c.ci_high:+.2f}]"
            if word == "better":
                parts.append(f"beats {c.baseline} ({figures})")
            elif word == "worse":
                parts.append(f"loses to {c.baseline} ({figures})")
            elif word.startswith("no difference"):
                parts.append(
                    f"shows no difference from {c.baseline} ({figures}; only {c.mde:.2f} or more would show)"
                )
            else:
                parts.append(f"cannot be told from {c.baseline} yet ({figures})")
        lines.append(f"- {_metric(cs[0])} {at}, n = {cs[0].n}: it " + "; ".join(parts) + ".")
    return lines
