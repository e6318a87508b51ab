"""Hydra callbacks: the comparison report is written at the end of every multirun."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ReportCallback(Callback):
    """After a sweep, write `<sweep dir>/report/` comparing its jobs (jobs that failed are left out)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from compress.report import find_runs, write_report

        sweep_dir = Path(config.hydra.sweep.dir)
        if not find_runs([sweep_dir]):
            return
        report = write_report([sweep_dir], sweep_dir / "report")
        print(f"report: {report}")
