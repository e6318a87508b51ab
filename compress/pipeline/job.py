"""One job of `python -m compress.run`: run the pipeline, record the job's status, return its metric.

A single run that fails on a user-fixable problem exits with status 2 and the fix; in a sweep a
failing job is recorded (`<job dir>/job_status.json`) and returns NaN so the sweep goes on.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig
from rich.markup import escape

from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.infra.secrets import load_env
from compress.pipeline.hydra_info import hydra_job
from compress.pipeline.runner import run_pipeline
from compress.sweep import jobs, objective

log = logging.getLogger(__name__)


def run_job(cfg: DictConfig) -> float | list[float] | None:
    """Run the pipeline; returns `optimize.metric` when its stage ran (NaN for a failed sweep job)."""
    job = hydra_job()
    run_dir = Path(cfg.paths.run_dir)
    base = {"num": job.get("num"), "overrides": job.get("overrides", []), "dir": str(run_dir)}
    t0 = time.perf_counter()
    outcomes: dict[str, str] = {}
    try:
        names = objective.check_metric(cfg)  # a misspelt metric fails here, before anything is spent
        load_env()
        records = run_pipeline(cfg, outcomes)
        value = objective.objective(cfg, records)
    except Exception as exc:
        jobs.write_job_status(
            run_dir,
            {
                **base,
                "status": "failed",
                "metric": None,
                "seconds": time.perf_counter() - t0,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "stages": {stage: {"outcome": o} for stage, o in outcomes.items()},
                **jobs.error_fields(exc),
            },
        )
        if job.get("multirun"):
            # recorded, and the sweep goes on: Optuna marks the trial failed, the summary lists it
            log.error("job %s failed", job.get("num"), exc_info=exc)
            console.print(
                f"[bold red]job {job.get('num')} failed[/] ({escape(f'{type(exc).__name__}: {exc}')}); "
                f"recorded in {run_dir / jobs.STATUS_FILE}, the sweep goes on"
            )
            return objective.failed_objective(cfg)
        if isinstance(exc, CompressError):
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            sys.exit(2)
        raise
    values = value if isinstance(value, list) else [value]
    jobs.write_job_status(
        run_dir,
        {
            **base,
            "status": "completed",
            "metric": dict(zip(names, values, strict=True)) if value is not None else None,
            "seconds": time.perf_counter() - t0,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "stages": jobs.stage_outcomes(records, outcomes),
        },
    )
    return value
