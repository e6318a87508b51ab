"""`python -m compress.report RUN_OR_SWEEP_DIR ...`: compare runs from their local run dirs.

Writes `report.md` (tables), PNG plots (reduction vs equivalence per compressor, per-model scores,
compressor latency) and one self-contained `report.html`. Everything is read from the run dirs
(offline); a W&B Report of the same runs needs a logged-in W&B server and is not built here.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from compress.schemas import EvalSummary


@dataclass
class RunInfo:
    """What the report shows of one pipeline run."""

    path: Path
    label: str
    summary: EvalSummary
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


def find_runs(paths: list[Path]) -> list[Path]:
    """Run dirs (holding evaluate/summary.json) at or below each path, in a stable order."""
    found: list[Path] = []
    for p in paths:
        if (p / "evaluate" / "summary.json").is_file():
            found.append(p)
        else:
            found += sorted(
                s.parent.parent for s in p.rglob("evaluate/summary.json") if "store" not in s.parts
            )
    return list(dict.fromkeys(found))


def _label(run: Path) -> str:
    overrides = run / ".hydra" / "overrides.yaml"
    if overrides.is_file():
        items = [
            o for o in yaml.safe_load(overrides.read_text()) or [] if not o.startswith(("paths.", "hydra."))
        ]
        if items:
            return f"{run.name}: " + " ".join(items)
    return run.name


def load_run(run: Path) -> RunInfo:
    """Read a run dir's evaluation summary and every finished stage's metrics."""
    summary = EvalSummary.model_validate_json((run / "evaluate" / "summary.json").read_text())
    stages = {}
    for stage in ("generate", "validate", "train", "evaluate"):
        done = run / stage / "_DONE.json"
        if done.is_file():
            rec = json.loads(done.read_text())
            stages[stage] = {**rec["metrics"], "seconds": rec["seconds"]}
    return RunInfo(run, _label(run), summary, stages)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def method_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """One row per run and compressor, with the metric names the evaluate summary uses."""
    rows = []
    for r in runs:
        for m in r.summary.methods:
            rows.append({"run": r.label, **m.model_dump()})
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
                **{
                    f"{s}/seconds": r.stages.get(s, {}).get("seconds")
                    for s in ("generate", "validate", "train", "evaluate")
                },
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """A GitHub markdown table of dict rows."""
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def plot(runs: list[RunInfo], out: Path) -> list[Path]:
    """Pareto (reduction vs min-over-models equivalence), per-model score bars and latency; returns PNG paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
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
    paths.append(out / "pareto.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

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
    paths.append(out / "models.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

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
    paths.append(out / "latency.png")
    fig.tight_layout()
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(paths: list[Path], out: Path) -> Path:
    """Write report.md, the PNGs and report.html for the runs under `paths` into `out`; returns report.md."""
    runs = [load_run(p) for p in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no run with evaluate/summary.json under {', '.join(map(str, paths))}")
    out.mkdir(parents=True, exist_ok=True)
    methods, per_run = method_rows(runs), run_rows(runs)
    pngs = plot(runs, out)
    tok = runs[0].summary.tokenizer
    md = [
        f"# Comparison of {len(runs)} runs",
        "",
        f"Token counts by {tok}; equivalence is the minimum over validator models "
        f"({', '.join(runs[0].summary.validator_models)}); every compressor is held to the trained compressor's budget.",
        "",
        "## Compressors",
        "",
        markdown_table(methods),
        "## Runs",
        "",
        markdown_table(per_run),
        *[f"![{p.stem}]({p.name})\n" for p in pngs],
    ]
    report = out / "report.md"
    report.write_text("\n".join(md))
    images = "".join(
        f'<h2>{p.stem}</h2><img alt="{p.stem}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">'
        for p in pngs
    )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>compress report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:13px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}</style></head><body>"
        f"<h1>Comparison of {len(runs)} runs</h1><p>{html.escape(md[2])}</p>"
        f"<h2>Compressors</h2>{_html_table(methods)}<h2>Runs</h2>{_html_table(per_run)}{images}"
        f"<p>written {datetime.now().isoformat(timespec='seconds')}</p></body></html>"
    )
    (out / "report.html").write_text(page)
    return report


def main(argv: list[str] | None = None) -> None:
    """Command line: run or sweep dirs in, a report dir out."""
    ap = argparse.ArgumentParser(prog="python -m compress.report", description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", type=Path, help="run dirs or sweep dirs (searched recursively)")
    ap.add_argument("--out", type=Path, default=None, help="report dir (default: <first path>/report)")
    args = ap.parse_args(argv)
    out = args.out or (args.paths[0] / "report")
    report = write_report(args.paths, out)
    print(
        f"report: {report} and {out / 'report.html'} (offline: no W&B Report built; it needs a logged-in W&B server)"
    )


if __name__ == "__main__":
    main()
