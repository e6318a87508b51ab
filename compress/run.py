"""The entry point: `python -m compress.run [+experiment=NAME] [overrides]` (and `-m` for sweeps).

It returns `optimize.metric` (see compress/sweep.py) to Hydra, which is what an Optuna sweep
optimises. A single run that fails on a user-fixable problem exits with status 2 and the fix; in a
sweep a failing job is recorded (`<job dir>/job_status.json`) and returns NaN so the sweep goes on.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import hydra
from omegaconf import DictConfig

from compress.errors import CompressError

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# Deprecation chatter from transformers/peft internals, not from this code.
warnings.filterwarnings("ignore", category=FutureWarning)
log = logging.getLogger(__name__)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Run the pipeline; returns `optimize.metric` when its stage ran (NaN for a failed sweep job)."""
    from rich.markup import escape

    from compress import sweep
    from compress.pipeline import console, run_pipeline
    from compress.secrets import load_env

    job = sweep.hydra_job()
    run_dir = Path(cfg.paths.run_dir)
    base = {"num": job.get("num"), "overrides": job.get("overrides", []), "dir": str(run_dir)}
    t0 = time.perf_counter()
    outcomes: dict[str, str] = {}
    try:
        names = sweep.check_metric(cfg)  # a misspelt metric fails here, before anything is spent
        load_env()
        records = run_pipeline(cfg, outcomes)
        value = sweep.objective(cfg, records)
    except Exception as exc:
        sweep.write_job_status(
            run_dir,
            {
                **base,
                "status": "failed",
                "metric": None,
                "seconds": time.perf_counter() - t0,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "stages": {stage: {"outcome": o} for stage, o in outcomes.items()},
                **sweep.error_fields(exc),
            },
        )
        if job.get("multirun"):
            # recorded, and the sweep goes on: Optuna marks the trial failed, the summary lists it
            log.error("job %s failed", job.get("num"), exc_info=exc)
            console.print(
                f"[bold red]job {job.get('num')} failed[/] ({escape(f'{type(exc).__name__}: {exc}')}); "
                f"recorded in {run_dir / sweep.STATUS_FILE}, the sweep goes on"
            )
            return sweep.failed_objective(cfg)
        if isinstance(exc, CompressError):
            console.print(f"[bold red]error:[/] {escape(str(exc))}")
            sys.exit(2)
        raise
    values = value if isinstance(value, list) else [value]
    sweep.write_job_status(
        run_dir,
        {
            **base,
            "status": "completed",
            "metric": dict(zip(names, values, strict=True)) if value is not None else None,
            "seconds": time.perf_counter() - t0,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "stages": sweep.stage_outcomes(records, outcomes),
        },
    )
    return value


if __name__ == "__main__":
    main()
