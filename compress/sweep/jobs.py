"""Each sweep job's status: what it wrote to `<job dir>/job_status.json`, and crashed jobs recorded as failed.

A sweep job (`-m`) that fails (bad hyperparameters, an out-of-memory error, a provider outage) does
not stop its sweep: its error lands in `<job dir>/job_status.json`, it returns NaN (Optuna records
the trial as failed) and the other jobs go on.
"""

from __future__ import annotations

import json
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import DictConfig, OmegaConf

from compress.infra.schemas import StageRecord
from compress.infra.secrets import scrub
from compress.sweep.objective import failed_objective

STATUS_FILE = "job_status.json"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The error of a failed job, as the status file and the summary show it."""
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


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job dirs (each has Hydra's `.hydra/`), in job order."""
    dirs = [p.parent.parent for p in sweep_dir.glob("**/.hydra/overrides.yaml")]
    dirs = [d for d in dirs if d != sweep_dir and "store" not in d.relative_to(sweep_dir).parts]

    def key(d: Path) -> tuple[int, str]:
        name = d.relative_to(sweep_dir).as_posix()
        return (int(name), name) if name.isdigit() else (1 << 30, name)

    return sorted(dirs, key=key)


def job_overrides(job_dir: Path) -> list[str]:
    """The job's overrides as Hydra saved them in `.hydra/overrides.yaml`."""
    path = job_dir / ".hydra" / "overrides.yaml"
    return [str(o) for o in (yaml.safe_load(path.read_text()) or [])] if path.is_file() else []
