"""Hydra callbacks of a multirun: the metric is checked before any job starts; when the sweep ends,
the sweep summary (every job's status, metric and error) and the comparison report are written."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import wandb
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf
from rich.markup import escape

from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.infra.tracking import stage_logger
from compress.report.html import write_report
from compress.report.runs import find_runs, load_runs
from compress.report.wandb_report import publish
from compress.sweep import objective
from compress.sweep.summary import print_summary, summarize, write_summary


def _failed_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    return [
        {
            "job": r["job"],
            "status": r["status"],
            "overrides": " ".join(o for o in r["overrides"] if not o.startswith(("paths.", "hydra."))),
            "error": (f"{r['error_type']}: " if r.get("error_type") else "") + str(r["error"] or "")[:500],
        }
        for r in summarize(sweep_dir)["jobs"]
        if r["status"] != "completed"
    ]


class ReportCallback(Callback):
    """After a sweep, write `<sweep dir>/report/` comparing its finished jobs and listing the failed ones,
    and a W&B Report of the same runs when they were logged online."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write the sweep's comparison report (and the W&B Report when the jobs were logged online)."""
        sweep_dir = Path(config.hydra.sweep.dir)
        if not find_runs([sweep_dir]):
            print(f"report: no job of {sweep_dir} finished its evaluate stage; nothing to compare")
            return
        try:
            report = write_report([sweep_dir], sweep_dir / "report", failed=_failed_rows(sweep_dir))
        except Exception as exc:  # the jobs' results stand; a broken report must not hide the sweep summary
            print(
                f"report: could not be written ({type(exc).__name__}: {exc}); rerun python -m compress.report {sweep_dir}"
            )
            return
        print(f"report: {report}")
        try:  # the same comparison as a W&B Report, when the jobs were logged online (it says why not, else)
            publish(load_runs([sweep_dir]))
        except Exception as exc:
            print(f"W&B Report: not built ({type(exc).__name__}: {exc}); the local report is complete")


class SweepCallback(Callback):
    """Checks `optimize.metric` before a sweep spends anything; when it ends, writes and prints
    `<sweep dir>/sweep_summary.json` and logs it (with the report) to W&B in the sweep's group."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Stop before any job starts when `optimize.metric` (or an Optuna search's setup) is wrong."""
        try:
            names = objective.check_metric(config)
            if "ptuna" in str(OmegaConf.select(config, "hydra.sweeper._target_", default="")):
                _check_optuna(config, names)
        except CompressError as exc:
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            sys.exit(2)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Write, print and log `<sweep dir>/sweep_summary.json`."""
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        summary = summarize(sweep_dir, config)
        path = write_summary(sweep_dir, summary)
        print_summary(summary)
        print(f"sweep summary: {path}")
        _log_wandb(config, sweep_dir, summary)


def _check_optuna(config: DictConfig, names: list[str]) -> None:
    """An Optuna search needs one direction per metric and a metric its jobs produce."""
    raw = OmegaConf.select(config, "hydra.sweeper.direction")
    dirs = list(raw) if OmegaConf.is_list(raw) or isinstance(raw, list) else [raw]
    if len(dirs) != len(names):
        raise CompressError(
            f"hydra.sweeper.direction={[str(d) for d in dirs]} has {len(dirs)} entries for optimize.metric={names}: "
            "give one direction per metric (the hparams_search presets take them from optimize.direction)."
        )
    stages = [str(s) for s in config.stages]
    missing = [n for n in names if objective.split_name(n)[0] not in stages]
    if missing:
        raise CompressError(
            f"optimize.metric {missing} comes from a stage not in stages={stages}: every trial would have "
            "nothing to return. Add the stage to stages or choose a metric of a stage that runs."
        )


def _log_wandb(config: DictConfig, sweep_dir: Path, summary: dict[str, Any]) -> None:
    """One W&B run (job_type `sweep`) in the sweep's group: the jobs table, counts, savings and the report."""
    logger_cfg = config.get("logger")
    if (
        logger_cfg is None
        or str(logger_cfg.get("kind")) != "wandb"
        or str(logger_cfg.get("mode")) == "disabled"
    ):
        return
    try:
        group = str(sweep_dir.resolve().relative_to(Path(config.paths.outputs).resolve()))
    except ValueError:
        group = sweep_dir.name
    # the sweep's own settings (each job's run carries its full config)
    job_config = {
        "name": str(config.name),
        "optimize": OmegaConf.to_container(config.optimize, resolve=True) if "optimize" in config else None,
        "sweeper": str(OmegaConf.select(config, "hydra.sweeper._target_")),
        "launcher": str(OmegaConf.select(config, "hydra.launcher._target_")),
        "overrides": [str(o) for o in OmegaConf.select(config, "hydra.overrides.task", default=[])],
    }
    rows = [
        {
            "job": r["job"],
            "status": r["status"],
            **{f"metric/{k}": v for k, v in (r["metric"] or {}).items()},
            "seconds": r["seconds"],
            "overrides": " ".join(r["overrides"]),
            "error": str(r["error"] or "")[:500],
        }
        for r in summary["jobs"]
    ]
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with stage_logger(
        logger_cfg, "sweep", sweep_dir, group, ["stage:sweep"], job_config, f"{group}/sweep"
    ) as log:
        log.table("jobs", [{k: r.get(k) for k in keys} for r in rows])
        s = summary["savings"]
        log.summary(
            {
                **{f"jobs_{k}": v for k, v in summary["counts"].items()},
                "store/reused": s["stages"]["reused"],
                "store/seconds_saved": s["stages"]["seconds_saved"],
                "llm_cache/calls": s["llm_cache"]["calls"],
                "llm_cache/hits": s["llm_cache"]["cache_hits"],
                "llm_cache/seconds_saved_est": s["llm_cache"]["seconds_saved_est"],
            }
        )
        report = sweep_dir / "report" / "report.html"
        if log.run is not None and report.is_file():
            log.run.log({"sweep/report": wandb.Html(report.read_text())})
