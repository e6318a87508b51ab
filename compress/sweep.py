"""Sweeps: the metric a job returns to its sweeper, each job's status, and the sweep's summary.

`optimize.metric` names what `python -m compress.run` returns (Optuna optimises it): an evaluate
metric by its name in the evaluate summary (`trained/equivalence_min`, `trained/token_reduction`,
`curve/truncate@0.5/equivalence_min`, ...) or any stage's metric as `<stage>/<name>`
(`validate/pass_rate_all_gates`, `train/loss_last_quarter`, `evaluate/trained/pass_rate`); a list of
names returns one value per name (a multi-objective search).

A sweep job (`-m`) that fails (bad hyperparameters, an out-of-memory error, a provider outage) does
not stop its sweep: its error lands in `<job dir>/job_status.json`, it returns NaN (Optuna records
the trial as failed) and the other jobs go on. When the sweep ends, `<sweep dir>/sweep_summary.json`
lists every job's status, metric and error, and what the shared stage store and LLM answer cache saved.
"""

from __future__ import annotations

import contextlib
import json
import math
import traceback
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from compress.errors import CompressError
from compress.schemas import StageRecord

STATUS_FILE = "job_status.json"
SUMMARY_FILE = "sweep_summary.json"
STAGE_NAMES = ("generate", "validate", "train", "evaluate")
# LLM totals every stage records (compress.llm.client.LLMSession.summary)
LLM_TOTALS = ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "retries")


# -- the metric -----------------------------------------------------------------------------------
def metric_names(cfg: DictConfig) -> list[str]:
    """`optimize.metric` as a list of names (one for a single objective)."""
    raw = OmegaConf.select(cfg, "optimize.metric")
    if raw is None:
        raise CompressError(
            "optimize.metric is not set: name the metric the entry point returns, e.g. "
            "optimize.metric=trained/equivalence_min (see conf/config.yaml)."
        )
    names = list(raw) if isinstance(raw, ListConfig | list | tuple) else [raw]
    if not names or not all(isinstance(n, str) and n for n in names):
        raise CompressError(f"optimize.metric={raw!r}: give a metric name or a list of names.")
    return [str(n) for n in names]


def directions(cfg: DictConfig) -> list[str]:
    """`optimize.direction` as a list (maximize / minimize), one per metric."""
    raw = OmegaConf.select(cfg, "optimize.direction", default="maximize")
    dirs = [str(d) for d in raw] if isinstance(raw, ListConfig | list | tuple) else [str(raw)]
    bad = [d for d in dirs if d not in ("maximize", "minimize")]
    if bad:
        raise CompressError(f"optimize.direction={raw!r}: each direction is maximize or minimize.")
    return dirs


def split_name(name: str) -> tuple[str, str]:
    """(stage, key in that stage's metrics): names without a stage prefix are evaluate metrics."""
    head, _, rest = name.partition("/")
    if head in STAGE_NAMES and rest:
        return head, rest
    return "evaluate", name


def _zero(annotation: Any) -> Any:
    return {float: 0.0, int: 0, str: "", bool: False}.get(annotation)


def _blank(schema: Any, **given: Any) -> Any:
    """An instance of a Pydantic model with every field not given set to its default or a zero."""
    values: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        if name not in given:
            values[name] = (
                _zero(field.annotation)
                if field.is_required()
                else field.get_default(call_default_factory=True)
            )
    return schema.model_construct(**values, **given)


def evaluate_names(cfg: DictConfig) -> list[str] | None:
    """Every numeric metric name the evaluate stage will record under this config, or None when
    it cannot be told before the stage runs (the name is then checked when the stage finishes)."""
    try:
        from compress import schemas
        from compress.evaluation import summary_metrics
    except ImportError:
        return None
    ev, models = cfg.evaluate, [str(m) for m in cfg.validation.models]
    try:
        equiv = {m: 0.0 for m in models}

        def method(name: str, rate: float | None = None) -> Any:
            return _blank(schemas.MethodSummary, method=name, model_equivalence=equiv, rate=rate)

        methods = [
            method(m) for m in dict.fromkeys(["trained", "teacher", *map(str, ev.get("baselines", []))])
        ]
        curves = [
            method(str(m), float(r))
            for r in ev.get("rates", []) or []
            for m in ev.get("rate_methods", []) or []
        ]
        extra: dict[str, Any] = {}
        if hasattr(schemas, "BreakEven"):
            extra["break_even"] = _blank(schemas.BreakEven)
        if hasattr(schemas, "TaskResult"):
            task_methods = dict.fromkeys(["identity", *map(str, ev.get("task_methods", []) or [])])
            extra["tasks"] = [
                _blank(schemas.TaskResult, task=str(t), method=m, model=mo)
                for t in ev.get("tasks", []) or []
                for m in task_methods
                for mo in models
            ]
        summary = _blank(
            schemas.EvalSummary, validator_models=models, methods=methods, curves=curves, **extra
        )
        names = summary_metrics(summary)
    except Exception:  # the evaluate code changed shape: fall back to checking after the stage
        return None
    numeric = [k for k, v in names.items() if not isinstance(v, str)]
    return sorted({*numeric, "samples", "seconds", *(f"llm/{k}" for k in LLM_TOTALS)})


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def check_metric(cfg: DictConfig) -> list[str]:
    """Fail before anything is spent when `optimize.metric` names a metric no stage records."""
    names = metric_names(cfg)
    dirs = directions(cfg)
    if len(dirs) != len(names):
        raise CompressError(
            f"optimize.direction={dirs} has {len(dirs)} entries for {len(names)} metric(s) {names}: give one "
            "direction (maximize or minimize) per metric."
        )
    known = None
    for name in names:
        stage, key = split_name(name)
        if stage != "evaluate":
            continue
        known = known if known is not None else evaluate_names(cfg)
        if known is not None and key not in known:
            raise CompressError(
                f"optimize.metric: no metric {name!r}{_did_you_mean(key, known)}. The evaluate stage records: "
                f"{', '.join(known)}; other stages' metrics are named <stage>/<name> (e.g. "
                "validate/pass_rate_all_gates). Set optimize.metric to one of them."
            )
    return names


def objective(cfg: DictConfig, records: dict[str, StageRecord]) -> float | list[float] | None:
    """The value(s) of `optimize.metric` from the finished stages; None when its stage did not run."""
    names = metric_names(cfg)
    values: list[float] = []
    for name in names:
        stage, key = split_name(name)
        rec = records.get(stage)
        if rec is None:
            return None
        value = rec.metrics.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            numeric = sorted(
                k for k, v in rec.metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)
            )
            found = (
                "is not a number" if key in rec.metrics else f"is not recorded{_did_you_mean(key, numeric)}"
            )
            raise CompressError(
                f"optimize.metric: {name!r} {found} by the {stage} stage. Its numeric metrics: "
                f"{', '.join(numeric)}. Set optimize.metric to one of them (prefixed {stage}/ unless it is evaluate)."
            )
        values.append(float(value))
    return values[0] if len(values) == 1 else values


def failed_objective(cfg: DictConfig) -> float | list[float]:
    """What a failed job returns: NaN per metric, which Optuna records as a failed trial."""
    try:
        n = len(metric_names(cfg))
    except CompressError:
        n = 1
    return math.nan if n == 1 else [math.nan] * n


# -- jobs -----------------------------------------------------------------------------------------
def hydra_job() -> dict[str, Any]:
    """This job's mode, number, overrides and dir from Hydra (empty outside a Hydra app)."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
    except (ImportError, ValueError):
        return {}
    return {
        "multirun": hc.mode == RunMode.MULTIRUN,
        "num": int(hc.job.num) if hc.mode == RunMode.MULTIRUN else None,
        "overrides": [str(o) for o in hc.overrides.task],
        "dir": str(hc.runtime.output_dir),
        "sweep_dir": str(hc.sweep.dir) if hc.mode == RunMode.MULTIRUN else None,
    }


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The error of a failed job, as the status file and the summary show it."""
    from compress.secrets import scrub

    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return {
        "error_type": type(exc).__name__,
        "error": scrub(str(exc)) or type(exc).__name__,
        "traceback": scrub(tb[-6000:]),
    }


def write_job_status(run_dir: Path, status: dict[str, Any]) -> Path:
    """Write `<run dir>/job_status.json` atomically (a summary may read it at any time)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / STATUS_FILE
    tmp = path.with_name(f".{STATUS_FILE}.tmp")
    tmp.write_text(json.dumps(status, indent=2, default=str))
    tmp.replace(path)
    return path


def read_job_status(job_dir: Path) -> dict[str, Any] | None:
    """A job dir's status, or None when the job never wrote one (still running, or its process was killed)."""
    path = job_dir / STATUS_FILE
    if not path.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError:
        return None
    return data


def stage_outcomes(records: dict[str, StageRecord], outcomes: dict[str, str]) -> dict[str, Any]:
    """Per stage: ran here, reused from the store / an earlier run, or read as an input; its seconds and LLM calls."""
    return {
        stage: {
            "outcome": outcomes.get(stage, "read"),
            "fingerprint": rec.fingerprint,
            "seconds": rec.seconds,
            **{f"llm/{k}": rec.metrics.get(f"llm/{k}", 0) for k in ("calls", "cache_hits")},
        }
        for stage, rec in records.items()
    }


def crashed_job_return(sweep_config: DictConfig, exc: BaseException) -> Any:
    """For launchers: record a job whose process died (killed for memory, lost node) as failed and
    return the JobReturn a failed job returns, so that the sweep goes on."""
    from hydra.core.utils import JobReturn, JobStatus

    job_dir = Path(str(OmegaConf.select(sweep_config, "hydra.sweep.dir"))) / str(
        OmegaConf.select(sweep_config, "hydra.sweep.subdir")
    )
    task_cfg = OmegaConf.masked_copy(sweep_config, [str(k) for k in sweep_config if k != "hydra"])
    overrides = [str(o) for o in OmegaConf.select(sweep_config, "hydra.overrides.task", default=[])]
    ret = JobReturn(overrides=overrides, cfg=task_cfg, working_dir=str(job_dir), task_name="run")
    ret.status = JobStatus.COMPLETED
    done = read_job_status(job_dir)
    if done is not None and done.get("status") == "completed" and isinstance(done.get("metric"), dict):
        # the job had finished and recorded its value; only handing it back failed
        values = [float(v) for v in done["metric"].values()]
        ret.return_value = values[0] if len(values) == 1 else values
        return ret
    write_job_status(
        job_dir,
        {
            "status": "failed",
            "num": OmegaConf.select(sweep_config, "hydra.job.num"),
            "overrides": overrides,
            "dir": str(job_dir),
            "metric": None,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            **error_fields(exc),
            "error": f"the job's process died: {type(exc).__name__}: {exc}"[:2000],
        },
    )
    ret.return_value = failed_objective(task_cfg)
    return ret


# -- the sweep's summary --------------------------------------------------------------------------
def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job dirs (each has Hydra's `.hydra/`), in job order."""
    dirs = [p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")]
    dirs = [d for d in dirs if d != sweep_dir and "store" not in d.relative_to(sweep_dir).parts]

    def key(d: Path) -> tuple[int, str]:
        name = d.relative_to(sweep_dir).as_posix()
        return (int(name), name) if name.isdigit() else (1 << 30, name)

    return sorted(dirs, key=key)


def _overrides(job_dir: Path) -> list[str]:
    import yaml

    path = job_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])] if path.is_file() else []


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
                "overrides": st.get("overrides") or _overrides(job),
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
    from rich.markup import escape
    from rich.table import Table

    from compress.pipeline import console

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
    import argparse

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


if __name__ == "__main__":
    main()
