"""`python -m compress.report RUN_OR_SWEEP_DIR ...`: compare runs from their local run dirs.

Writes `report.md` (tables), PNG plots (reduction vs equivalence per compressor, per-model scores,
compressor latency) and one self-contained `report.html`. Everything is read from the run dirs
(offline). When the runs were logged to W&B online and credentials are at hand, a W&B Report of the
same runs is saved too (`compress.wandb_report`); otherwise it says why not.
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
            # not the stage store's copies, nor the copy each W&B run keeps under wandb/*/files/
            found += sorted(
                s.parent.parent
                for s in p.rglob("evaluate/summary.json")
                if not {"store", "wandb"} & set(s.relative_to(p).parts)
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
    fetched = run / "stages.json"  # a run read back from W&B (compress.wandb_runs): its stage runs' metrics
    if fetched.is_file():
        stages = json.loads(fetched.read_text())
    for stage in ("generate", "validate", "train", "evaluate"):
        done = run / stage / "_DONE.json"
        if done.is_file():
            rec = json.loads(done.read_text())
            stages[stage] = {**rec["metrics"], "seconds": rec["seconds"]}
    return RunInfo(run, _label(run), summary, stages)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        # three decimals, but never a small nonzero figure (dollars per 1k tokens) shown as 0.000
        return f"{v:.3f}" if v == 0 or abs(v) >= 0.001 else f"{v:.2e}"
    return str(v)


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
            rows.append(
                {"run": r.label, **m.model_dump(exclude={"model_equivalence", "rate", *PRESERVATION})}
            )
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


def curve_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """The rate sweep: each baseline at each requested rate, beside the trained and teacher points."""
    keys = ("achieved_rate", "token_reduction", "equivalence_min", "pass_rate", "fact_recall")
    return [
        {"run": r.label, "method": c.method, "rate": c.rate, **{k: getattr(c, k) for k in keys}}
        for r in runs
        for c in r.summary.curves
    ]


def break_even_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """When the trained compressor pays for itself against the configured target model."""
    return [{"run": r.label, **r.summary.break_even.model_dump()} for r in runs if r.summary.break_even]


def task_rows(runs: list[RunInfo]) -> list[dict[str, Any]]:
    """Gold-answer tasks: accuracy with 95% CIs per method and answering model, change vs the original."""
    return [{"run": r.label, **t.model_dump()} for r in runs for t in r.summary.tasks]


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


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


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


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_report(paths: list[Path], out: Path, failed: list[dict[str, Any]] | None = None) -> Path:
    """Write report.md, the PNGs and report.html for the runs under `paths` into `out`; returns report.md.

    `failed`: rows (job, status, overrides, error) of sweep jobs that did not finish, listed in their own section."""
    runs = [load_run(p) for p in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no run with evaluate/summary.json under {', '.join(map(str, paths))}")
    out.mkdir(parents=True, exist_ok=True)
    tables = report_tables(runs)
    if failed:
        tables["Failed jobs"] = failed
    pngs = plot(runs, out)
    tok = runs[0].summary.tokenizer
    md = [
        f"# Comparison of {len(runs)} runs",
        "",
        f"Token counts by {tok}; equivalence is the minimum over validator models "
        f"({', '.join(runs[0].summary.validator_models)}); every compressor is held to the trained compressor's budget.",
        "",
        *[line for title, rows in tables.items() for line in (f"## {title}", "", markdown_table(rows))],
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
        + "".join(f"<h2>{html.escape(t)}</h2>{_html_table(rows)}" for t, rows in tables.items())
        + f"{images}"
        f"<p>written {datetime.now().isoformat(timespec='seconds')}</p></body></html>"
    )
    (out / "report.html").write_text(page)
    return report


# --- Loader API: the notebook (notebooks/analysis.ipynb) and compress.wandb_report read runs through
# these, so the three views (markdown/HTML, notebook, W&B Report) always show the same runs and rows.


def load_runs(paths: list[Path]) -> list[RunInfo]:
    """Every run at or below `paths` (run dirs or sweep dirs), loaded; raises SystemExit when there is none."""
    runs = [load_run(p) for p in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no run with evaluate/summary.json under {', '.join(map(str, paths))}")
    return runs


def newest_runs_dir(outputs: Path) -> Path:
    """The newest run dir or sweep dir under `outputs/runs` and `outputs/multiruns`.

    Their names start with the time (conf/hydra/default.yaml), so the newest sorts last whatever the
    file times say (hard links from the store keep old mtimes).
    """
    dirs = [d for sub in ("runs", "multiruns") if (outputs / sub).is_dir() for d in (outputs / sub).iterdir()]
    for d in sorted((d for d in dirs if d.is_dir()), key=lambda d: d.name, reverse=True):
        if find_runs([d]):
            return d
    raise SystemExit(f"no finished run under {outputs}/runs or {outputs}/multiruns")


def report_tables(runs: list[RunInfo]) -> dict[str, list[dict[str, Any]]]:
    """The report's tables by section title, as dict rows (one place to add a table to every view)."""
    tables = {
        "Compressors at the trained budget": method_rows(runs),
        "Transfer: equivalence per validator model": transfer_rows(runs),
        "Preservation": preservation_rows(runs),
        "Rate sweep": curve_rows(runs),
        "Break-even against the target model": break_even_rows(runs),
        "Gold-answer tasks (95% CIs)": task_rows(runs),
        "Runs": run_rows(runs),
    }
    return {k: v for k, v in tables.items() if v}


def main(argv: list[str] | None = None) -> None:
    """Command line: run or sweep dirs in, a report dir out (and a W&B Report when the runs were online)."""
    ap = argparse.ArgumentParser(prog="python -m compress.report", description=__doc__.splitlines()[0])
    ap.add_argument(
        "paths",
        nargs="+",
        help="run dirs or sweep dirs (searched recursively), or W&B runs as wandb:ENTITY/PROJECT[/GROUP] "
        "(GROUP: a run or sweep dir under outputs/; needs W&B online)",
    )
    ap.add_argument("--out", type=Path, default=None, help="report dir (default: <first path>/report)")
    ap.add_argument(
        "--fetch-dir",
        type=Path,
        default=Path("outputs/wandb_runs"),
        help="where runs read from W&B are laid out as run dirs (default: outputs/wandb_runs)",
    )
    ap.add_argument(
        "--wandb",
        choices=("auto", "force", "off"),
        default="auto",
        help="W&B Report: auto = when the runs were logged online and credentials are here; "
        "force = also for runs logged offline and uploaded since with `wandb sync`; off = never",
    )
    args = ap.parse_args(argv)
    local = [_local(arg, args.fetch_dir) for arg in args.paths]
    paths = [run for runs, _ in local for run in runs]
    out: Path = args.out or local[0][1] / "report"
    report = write_report(paths, out)
    print(f"report: {report} and {out / 'report.html'}")
    if args.wandb != "off":
        from compress.wandb_report import publish

        publish(load_runs(paths), force=args.wandb == "force")


def _local(arg: str, fetch_dir: Path) -> tuple[list[Path], Path]:
    """The local dirs a report argument stands for, and where its report goes by default.

    A W&B spec is fetched into `fetch_dir/<entity>/<project>/` first (compress.wandb_runs).
    """
    from compress import wandb_runs
    from compress.errors import CompressError

    if not wandb_runs.is_spec(arg):
        return [Path(arg)], Path(arg)
    entity, project, group = wandb_runs.parse_spec(arg)
    dest = fetch_dir / (entity or "_default") / project
    try:
        runs = wandb_runs.fetch(arg, dest)
    except CompressError as exc:
        raise SystemExit(f"error: {exc}") from exc
    return runs, dest / group if group else dest


if __name__ == "__main__":
    main()
