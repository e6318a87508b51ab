"""What Hydra knows about the running job: mode, number, overrides, choices and dirs (empty outside an app)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from compress.infra.tracking import group_of, run_label


def hydra_job() -> dict[str, Any]:
    """This job's mode, number, overrides and dir from Hydra (empty outside a Hydra app)."""
    try:
        hc = HydraConfig.get()
    except ValueError:
        return {}
    return {
        "multirun": hc.mode == RunMode.MULTIRUN,
        "num": int(hc.job.num) if hc.mode == RunMode.MULTIRUN else None,
        "overrides": [str(o) for o in hc.overrides.task],
        "dir": str(hc.runtime.output_dir),
        "sweep_dir": str(hc.sweep.dir) if hc.mode == RunMode.MULTIRUN else None,
    }


def overrides() -> list[str]:
    """The job's command-line overrides (the report labels runs by them), outside Hydra none."""
    try:
        return [str(o) for o in HydraConfig.get().overrides.task]
    except ValueError:
        return []


def tags(cfg: DictConfig) -> list[str]:
    """W&B tags: the chosen config options (`group:option`) and the experiment's name."""
    try:
        choices = HydraConfig.get().runtime.choices
        found = [f"{k}:{v}" for k, v in choices.items() if v and not str(k).startswith("hydra")]
    except ValueError:
        found = []
    return [*found, f"name:{cfg.name}"]


def wandb_group(cfg: DictConfig, run_dir: Path) -> tuple[str, str]:
    """W&B group and run-name prefix of the running job (`run_label`, `group_of`)."""
    try:
        multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    except ValueError:  # no Hydra app (run_pipeline called directly)
        multirun = False
    name = run_label(run_dir, Path(cfg.paths.outputs).absolute())
    return group_of(name, multirun), name
