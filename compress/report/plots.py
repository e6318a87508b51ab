"""The report's plots as PNGs: reduction vs equivalence, per-model scores, latency, the rate sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window: before pyplot is imported
import matplotlib.pyplot as plt

from compress.report.runs import RunInfo


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_headline(runs: list[RunInfo], out: Path) -> Path | None:
    """The headline as a forest plot: each comparison's paired difference with its 95% interval and
    the smallest difference its n detects (grey band), cloze and equivalence side by side."""
    rows = [(r, c) for r in runs for c in r.summary.headline if c.method == "trained" or c.rate is not None]
    if not rows:
        return None
    metrics = sorted({c.metric for _, c in rows})
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(6 * len(metrics), 0.35 * len(rows) / len(metrics) + 2), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        mine = [(r, c) for r, c in rows if c.metric == metric]
        labels = []
        for y, (r, c) in enumerate(mine):
            at = "matched" if c.rate is None else f"@{c.rate:g}"
            who = f"{r.path.name}: " if len(runs) > 1 else ""
            model = "" if c.model == "min" else f" [{c.model}]"
            labels.append(f"{who}{c.method} vs {c.baseline} {at}{model}")
            ax.fill_betweenx([y - 0.4, y + 0.4], -c.mde, c.mde, color="0.9", zorder=0)
            color = "tab:green" if c.ci_low > 0 else "tab:red" if c.ci_high < 0 else "tab:gray"
            ax.errorbar(
                c.diff, y, xerr=[[c.diff - c.ci_low], [c.ci_high - c.diff]], fmt="o", color=color, capsize=3
            )
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(labels)), labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xlabel(f"paired difference in {metric} (95% bootstrap CI; grey: below what n detects)")
        ax.set_title(f"{metric}: method minus baseline, same items")
        ax.grid(axis="x", alpha=0.3)
    return _save(fig, out / "ci.png")


def plot(runs: list[RunInfo], out: Path) -> list[Path]:
    """Pareto (reduction vs min-over-models equivalence), per-model score bars and latency; returns PNG paths."""
    headline = plot_headline(runs, out)
    paths = [headline] if headline is not None else []
    fig, ax = plt.subplots(figsize=(7, 5))
    for r in runs:
        xs = [m.token_reduction for m in r.summary.methods]
        ys = [m.equivalence_min for m in r.summary.methods]
        ax.scatter(xs, ys, label=r.label[:60])
        for m, x, y in zip(r.summary.methods, xs, ys, strict=True):
            ax.annotate(m.method, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"token reduction ({runs[0].summary.tokenizer})" if runs else "token reduction")
    ax.set_ylabel("equivalence, min over validator models")
    ax.set_title("Reduction vs equivalence (up and right is better)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    paths.append(_save(fig, out / "pareto.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    labels, values = [], []
    for r in runs:
        for k, v in r.stages.get("validate", {}).items():
            if k.startswith("score_mean/"):
                labels.append(f"{r.path.name}\n{k.split('/', 1)[1]}")
                values.append(v)
    ax.bar(range(len(values)), values)
    ax.set_xticks(range(len(values)), labels, fontsize=7)
    ax.set_ylabel("mean equivalence (validate)")
    ax.set_title("Per validator model")
    paths.append(_save(fig, out / "models.png"))

    fig, ax = plt.subplots(figsize=(7, 4))
    names = [f"{r.path.name}:{m.method}" for r in runs for m in r.summary.methods]
    ax.bar(range(len(names)), [m.latency_p50_s for r in runs for m in r.summary.methods], label="p50")
    ax.scatter(
        range(len(names)),
        [m.latency_p95_s for r in runs for m in r.summary.methods],
        color="black",
        label="p95",
        zorder=3,
    )
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("compressor seconds per sample")
    ax.set_title("Compressor latency (target-model time excluded)")
    ax.legend()
    paths.append(_save(fig, out / "latency.png"))

    if any(r.summary.curves for r in runs):
        fig, ax = plt.subplots(figsize=(7, 5))
        for r in runs:
            tag = r.path.name if len(runs) > 1 else ""
            by_method: dict[str, list[Any]] = {}
            for c in r.summary.curves:
                by_method.setdefault(c.method, []).append(c)
            for method, pts in by_method.items():
                pts.sort(key=lambda c: c.token_reduction)
                xs, ys = [c.token_reduction for c in pts], [c.equivalence_min for c in pts]
                if pts[0].rate is None:  # the trained and teacher points
                    ax.scatter(
                        xs,
                        ys,
                        marker="*" if method == "trained" else "D",
                        s=90,
                        zorder=3,
                        label=f"{tag} {method}",
                    )
                else:
                    ax.plot(xs, ys, marker="o", label=f"{tag} {method}")
        ax.set_xlabel(f"token reduction ({runs[0].summary.tokenizer})")
        ax.set_ylabel("equivalence, min over validator models")
        ax.set_title("Rate sweep: each method's reduction vs equivalence")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        paths.append(_save(fig, out / "curves.png"))
    return paths
