"""The sweep's summary: every job's status, metric and error, the best job, and what sharing saved.

When the sweep ends (`compress.sweep.callbacks.SweepCallback`), or by hand with
`python -m compress.sweep SWEEP_DIR`, `<sweep dir>/sweep_summary.json` lists every job's status,
metric and error, and what the shared stage store and LLM answer cache saved.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from rich.markup import escape
from rich.table import Table

from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.sweep.jobs import job_dirs, job_overrides, read_job_status
from compress.sweep.objective import directions, metric_names

SUMMARY_FILE = "sweep_summary.json"


def llm_savings(jobs: list[Path]) -> dict[str, Any]:
    """LLM calls made vs answered by the shared cache, from the jobs' ledgers, and the time the hits saved.

    Calls overlap (up to `llm.concurrency` at once), so a call's own `seconds` overstates the wall time
    it costs; the time per call is taken from throughput instead: per job, stage and model, the span
    from the first uncached call's start to the last one's end over the number of calls; a hit saves
    that much wall time.
    """
    n_made: dict[str, int] = defaultdict(int)
    span: dict[str, float] = defaultdict(float)
    hits: dict[str, int] = defaultdict(int)
    cost: dict[str, float] = defaultdict(float)
    hit_tokens = 0
    for job in jobs:
        ledger = job / "llm_ledger.jsonl"
        if not ledger.is_file():
            continue
        groups: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        for line in ledger.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut short by a killed job
            model = str(row.get("model"))
            if row.get("cached"):
                hits[model] += 1
                hit_tokens += int(row.get("prompt_tokens", 0)) + int(row.get("completion_tokens", 0))
            else:
                end, secs = float(row.get("time", 0.0)), float(row.get("seconds", 0.0))
                groups[(str(row.get("stage")), model)].append((end - secs, end))
                cost[model] += float(row.get("cost_usd", 0.0))
        for (_, model), spans in groups.items():
            n_made[model] += len(spans)
            span[model] += max(e for _, e in spans) - min(s for s, _ in spans)
    per_model = {}
    for model in sorted({*n_made, *hits}):
        per_call = span[model] / n_made[model] if n_made[model] else None
        per_model[model] = {
            "calls": n_made[model],
            "cache_hits": hits[model],
            "seconds_per_call": per_call,
            "seconds_saved_est": (per_call or 0.0) * hits[model],
            "usd_saved_est": (cost[model] / n_made[model] if n_made[model] else 0.0) * hits[model],
        }
    calls, n_hits = sum(n_made.values()), sum(hits.values())
    return {
        "calls": calls,
        "cache_hits": n_hits,
        "hit_rate": n_hits / (calls + n_hits) if calls + n_hits else 0.0,
        "call_seconds": sum(span.values()),
        "seconds_saved_est": sum(m["seconds_saved_est"] for m in per_model.values()),
        "usd_saved_est": sum(m["usd_saved_est"] for m in per_model.values()),
        "tokens_saved": hit_tokens,
        "per_model": per_model,
    }


def stage_savings(statuses: list[dict[str, Any]]) -> dict[str, Any]:
    """Stage outputs jobs took from the store (or an earlier run) instead of computing them, and
    the compute time and LLM calls that saved (what the stage cost where it ran)."""
    per_stage: dict[str, dict[str, Any]] = {}
    for st in statuses:
        for stage, s in (st.get("stages") or {}).items():
            row = per_stage.setdefault(
                stage, {"ran": 0, "reused": 0, "seconds_saved": 0.0, "llm_calls_saved": 0}
            )
            if s.get("outcome") == "ran":
                row["ran"] += 1
            elif s.get("outcome") == "reused":
                row["reused"] += 1
                row["seconds_saved"] += float(s.get("seconds", 0.0))
                row["llm_calls_saved"] += int(s.get("llm/calls", 0)) + int(s.get("llm/cache_hits", 0))
    return {
        "reused": sum(r["reused"] for r in per_stage.values()),
        "ran": sum(r["ran"] for r in per_stage.values()),
        "seconds_saved": sum(r["seconds_saved"] for r in per_stage.values()),
        "llm_calls_saved": sum(r["llm_calls_saved"] for r in per_stage.values()),
        "per_stage": per_stage,
    }


def summarize(sweep_dir: Path, cfg: DictConfig | None = None) -> dict[str, Any]:
    """Every job of the sweep with its status, metric and error; counts; the best job; savings."""
    jobs = job_dirs(sweep_dir)
    rows, statuses = [], []
    for job in jobs:
        st = read_job_status(job)
        if st is None:
            st = {
                "status": "unknown",
                "error": "no job_status.json: the job is still running, or its process was killed "
                "(e.g. for memory) before it could record anything; see its run.log",
            }
        statuses.append(st)
        rows.append(
            {
                "job": job.relative_to(sweep_dir).as_posix(),
                "dir": str(job),
                "status": st.get("status", "unknown"),
                "overrides": st.get("overrides") or job_overrides(job),
                "metric": st.get("metric"),
                "seconds": st.get("seconds"),
                "error_type": st.get("error_type"),
                "error": st.get("error"),
            }
        )
    names = dirs = None
    if cfg is not None:
        with contextlib.suppress(CompressError):  # a summary without a best job, still
            names, dirs = metric_names(cfg), directions(cfg)
    if names is None:  # no config at hand: the names the jobs recorded
        names = (
            list(dict.fromkeys(k for r in rows if isinstance(r["metric"], dict) for k in r["metric"])) or None
        )
    best = _best(rows, names, dirs)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("completed", "failed", "unknown")}
    return {
        "sweep_dir": str(sweep_dir),
        "metric": names,
        "direction": dirs,
        "jobs": rows,
        "counts": {"jobs": len(rows), **counts},
        "best": best,
        "savings": {"stages": stage_savings(statuses), "llm_cache": llm_savings(jobs)},
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _best(
    rows: list[dict[str, Any]], names: list[str] | None, dirs: list[str] | None
) -> dict[str, Any] | None:
    """The completed job with the best first metric (the first direction decides)."""
    if not names or not dirs:
        return None
    first = names[0]
    scored = [
        r
        for r in rows
        if r["status"] == "completed"
        and isinstance(r["metric"], dict)
        and isinstance(r["metric"].get(first), int | float)
        and not math.isnan(r["metric"][first])
    ]
    if not scored:
        return None
    pick = max if dirs[0] == "maximize" else min
    r = pick(scored, key=lambda r: r["metric"][first])
    return {"job": r["job"], "metric": r["metric"], "overrides": r["overrides"]}


def write_summary(sweep_dir: Path, summary: dict[str, Any]) -> Path:
    """`<sweep dir>/sweep_summary.json`."""
    path = sweep_dir / SUMMARY_FILE
    path.write_text(json.dumps(summary, indent=2, default=str))
    return path


def print_summary(summary: dict[str, Any]) -> None:
    """The summary as rich tables on stderr."""
    names = summary.get("metric") or []
    t = Table(title=f"sweep {summary['sweep_dir']}")
    for col in ("job", "status", *(names or ["metric"]), "seconds", "overrides", "error"):
        t.add_column(col, overflow="fold")
    for r in summary["jobs"]:
        metric = r["metric"] if isinstance(r["metric"], dict) else {}
        style = {"failed": "red", "unknown": "yellow"}.get(r["status"])
        t.add_row(
            r["job"],
            r["status"],
            *[_fmt(metric.get(n)) for n in (names or ["metric"])],
            _fmt(r["seconds"]),
            escape(" ".join(o for o in r["overrides"] if not o.startswith(("paths.", "hydra.")))),
            escape((f"{r['error_type']}: " if r.get("error_type") else "") + str(r["error"] or "")[:300]),
            style=style,
        )
    console.print(t)
    c, s = summary["counts"], summary["savings"]
    llm, stages = s["llm_cache"], s["stages"]
    lines = [
        f"{c['completed']} of {c['jobs']} jobs completed, {c['failed']} failed, {c['unknown']} without a status",
        f"stage store: {stages['reused']} stage outputs reused, {stages['ran']} computed; about "
        f"{stages['seconds_saved']:.0f}s of compute and {stages['llm_calls_saved']} LLM calls saved",
        f"LLM answer cache: {llm['calls']} calls made, {llm['cache_hits']} answered from the cache "
        f"({llm['hit_rate']:.0%}); about {llm['seconds_saved_est']:.0f}s saved",
    ]
    if summary.get("best"):
        b = summary["best"]
        lines.append(escape(f"best: job {b['job']} {b['metric']}"))
    for line in lines:
        console.print(line)
    if c["failed"] or c["unknown"]:
        console.print(
            f"[bold red]{c['failed'] + c['unknown']} job(s) did not finish:[/] see "
            f"{Path(summary['sweep_dir']) / SUMMARY_FILE} and each job's run.log"
        )


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def main(argv: list[str] | None = None) -> None:
    """`python -m compress.sweep SWEEP_DIR`: (re)write a sweep's summary, e.g. after an interrupt."""
    ap = argparse.ArgumentParser(prog="python -m compress.sweep", description=main.__doc__)
    ap.add_argument("sweep_dir", type=Path, help="a dir under outputs/multiruns")
    args = ap.parse_args(argv)
    if not args.sweep_dir.is_dir():
        raise SystemExit(f"{args.sweep_dir}: no such sweep dir (pass a dir under outputs/multiruns)")
    saved = args.sweep_dir / "multirun.yaml"  # Hydra's copy of the sweep's config: the metric and directions
    cfg = OmegaConf.load(saved) if saved.is_file() else None
    summary = summarize(args.sweep_dir, cfg if isinstance(cfg, DictConfig) else None)
    path = write_summary(args.sweep_dir, summary)
    print_summary(summary)
    print(f"sweep summary: {path}")
