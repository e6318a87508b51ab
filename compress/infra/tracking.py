"""W&B: one run per stage, grouped per pipeline run; metrics named `stage/metric`; always finished.

`logger=none` turns it off; `logger=wandb_offline` (the default) writes under the run dir for a
later `wandb sync`; `logger=wandb_online` uploads as it goes.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, cast

import wandb

from compress.infra.errors import CompressError
from compress.infra.secrets import scrub


class StageLogger:
    """A context manager around one stage's run in a tracker; this base class logs nothing
    (`logger.kind=none`). `LOGGERS` maps `logger.kind` to the class that logs."""

    def __init__(
        self,
        logger_cfg: Any,
        stage: str,
        run_dir: Path,
        group: str,
        tags: list[str],
        config: dict[str, Any],
        name: str | None = None,
    ) -> None:
        self.stage = stage
        # a sweep's jobs share one group (the sweep dir), so each run is named by its job dir and stage
        self._name = name or f"{group}/{stage}"
        self._cfg, self._run_dir, self._group, self._tags, self._config = (
            logger_cfg,
            run_dir,
            group,
            tags,
            config,
        )
        self.run: Any = None

    def __enter__(self) -> StageLogger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log metrics (names prefixed with the stage)."""

    def summary(self, metrics: dict[str, Any]) -> None:
        """Set summary values (names prefixed with the stage)."""

    def save(self, path: Path, base: Path) -> None:
        """Keep a file with this stage's run, named by its path below `base`."""

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Log rows as a table."""

    def artifact(self, path: Path, name: str, kind: str, metadata: dict[str, Any] | None = None) -> None:
        """Log a directory (dataset or adapter) as an artifact of this stage's run."""


class WandbStageLogger(StageLogger):
    """One W&B run per stage (`logger.mode`: offline, online or disabled)."""

    def __enter__(self) -> StageLogger:
        if str(self._cfg.mode) != "disabled":
            self.run = wandb.init(
                project=str(self._cfg.project),
                entity=self._cfg.entity or None,
                group=self._group,
                job_type=self.stage,
                name=self._name,
                tags=self._tags[:64],
                config=scrub(self._config),
                dir=str(self._run_dir),
                mode=cast(Any, str(self._cfg.mode)),
                reinit="finish_previous",
                settings=wandb.Settings(console="off", x_disable_stats=True, silent=True),
            )
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.run is not None:
            if exc is not None:
                self.run.summary[f"{self.stage}/error"] = scrub(f"{type(exc).__name__}: {exc}")
            self.run.finish(exit_code=1 if exc is not None else 0)
            self.run = None

    def _key(self, k: str) -> str:
        return k if k.startswith(self.stage + "/") else f"{self.stage}/{k}"

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        """Log metrics (names prefixed with the stage)."""
        if self.run is not None:
            self.run.log({self._key(k): v for k, v in metrics.items()}, step=step)

    def summary(self, metrics: dict[str, Any]) -> None:
        """Set summary values (names prefixed with the stage)."""
        if self.run is not None:
            for k, v in metrics.items():
                self.run.summary[self._key(k)] = v

    def save(self, path: Path, base: Path) -> None:
        """Keep a file with this stage's run, named by its path below `base` (offline: uploaded by `wandb sync`)."""
        if self.run is not None:
            self.run.save(str(path), base_path=str(base), policy="now")

    def table(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Log rows as a W&B table."""
        if self.run is not None and rows:
            cols: list[Any] = list(rows[0])
            data = [[_cell(r[c]) for c in cols] for r in rows]
            self.run.log({self._key(name): wandb.Table(columns=cols, data=data)})

    def artifact(self, path: Path, name: str, kind: str, metadata: dict[str, Any] | None = None) -> None:
        """Log a directory (dataset or adapter) as an artifact of this stage's run."""
        if self.run is not None:
            art = wandb.Artifact(name=name, type=kind, metadata=scrub(metadata or {}))
            art.add_dir(str(path))
            self.run.log_artifact(art)


LOGGERS: dict[str, type[StageLogger]] = {"none": StageLogger, "wandb": WandbStageLogger}


def stage_logger(
    logger_cfg: Any,
    stage: str,
    run_dir: Path,
    group: str,
    tags: list[str],
    config: dict[str, Any],
    name: str | None = None,
) -> StageLogger:
    """The logger `logger.kind` names, for one stage's run (a clear error for an unknown kind)."""
    kind = str(logger_cfg.kind)
    if kind not in LOGGERS:
        raise CompressError(f"logger.kind={kind!r} is unknown; choose from {sorted(LOGGERS)}.")
    return LOGGERS[kind](logger_cfg, stage, run_dir, group, tags, config, name)


def _cell(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return ", ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in v)
    return v


def run_label(run_dir: Path, outputs: Path | None) -> str:
    """A run's name in W&B and in reports: its dir relative to `paths.outputs`. Where that is unknown (a
    config read back outside Hydra, whose `${hydra:...}` does not resolve) the run-dir layout of
    conf/hydra/default.yaml tells it: `runs/<run>`, `multiruns/<sweep>/<job>`; else the dir's name."""
    if outputs is not None and outputs.is_absolute():
        try:
            return str(run_dir.resolve().relative_to(outputs.resolve()))
        except ValueError:
            pass
    if run_dir.parent.name == "runs":
        return f"runs/{run_dir.name}"
    if run_dir.parent.parent.name == "multiruns":
        return f"multiruns/{run_dir.parent.name}/{run_dir.name}"
    return run_dir.name


def group_of(label: str, multirun: bool) -> str:
    """The W&B group of a run labelled `label`: a sweep's jobs share their sweep dir, a single run is its
    own group."""
    return label.rsplit("/", 1)[0] if multirun and "/" in label else label
