"""The resumable Optuna search loop (imported only when a sweep uses it)."""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any

import optuna
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_optuna_sweeper._impl import OptunaSweeperImpl, create_params_from_overrides
from omegaconf import OmegaConf
from optuna.trial import Trial, TrialState

from compress.sweep.jobs import job_dirs, read_job_status

log = logging.getLogger(__name__)
# where a trial's job runs: {"sweep_dir", "num", "host", "pid"}, set before it is launched
JOB_ATTR = "compress_job"


def _sqlite_dir(storage: Any) -> None:
    """SQLite creates the database file but not its folder."""
    url = str(storage or "")
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _alive(job: dict[str, Any]) -> bool:
    """Whether the search process that launched a trial still runs (another host: assume it does)."""
    if job.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(job["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError, TypeError):
        return True
    return True


def _values(raw: Any, n: int) -> list[float] | None:
    """A job's return value as n finite floats, or None (a failed trial)."""
    try:
        values = [float(v) for v in raw] if n > 1 else [float(raw)]
    except (TypeError, ValueError):
        return None
    if len(values) != n or not all(math.isfinite(v) for v in values):
        return None
    return values


def _job_values(ret: JobReturn, n: int) -> tuple[list[float] | None, str]:
    if ret.status != JobStatus.COMPLETED:
        exc = ret._return_value
        return None, f"{type(exc).__name__}: {exc}"
    values = _values(ret.return_value, n)
    return values, "" if values is not None else f"the job returned {ret.return_value!r}"


class ResumableOptunaSweeperImpl(OptunaSweeperImpl):
    """OptunaSweeperImpl with its sweep loop replaced (the search-space handling is inherited)."""

    def _recover(self, study: optuna.Study, n: int) -> tuple[list[int], int]:
        """Settle trials an interrupted search left running; returns (trial ids to run again, trials still live)."""
        redo, live = [], 0
        for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            job = t.user_attrs.get(JOB_ATTR)
            if job is None:  # asked but never launched: nothing ran, run it now
                redo.append(t._trial_id)
                continue
            if _alive(job):  # one search process per study: a live one still owns its trials
                live += 1
                continue
            sweep_dir = Path(job["sweep_dir"])
            status = next(
                (
                    s
                    for d in (job_dirs(sweep_dir) if sweep_dir.is_dir() else [])
                    if (s := read_job_status(d)) and s.get("num") == job["num"]
                ),
                None,
            )
            trial = Trial(study, t._trial_id)
            metric = (status or {}).get("metric")
            values = (
                _values(list(metric.values()) if n > 1 else next(iter(metric.values())), n)
                if isinstance(metric, dict) and metric
                else None
            )
            if status and status.get("status") == "completed" and values is not None:
                study.tell(trial, values=values)
                log.info(
                    f"trial {t.number}: its job ({sweep_dir}/{job['num']}) finished before the interrupt; value {values} recorded, not rerun"
                )
            elif status and status.get("status") == "failed":
                study.tell(trial, state=TrialState.FAIL)
                log.info(
                    f"trial {t.number}: its job failed before the interrupt ({status.get('error_type')}); recorded as failed"
                )
            else:
                redo.append(t._trial_id)
                log.info(
                    f"trial {t.number} was interrupted: it runs again with the same parameters {t.params}"
                )
        return redo, live

    def sweep(self, arguments: list[str]) -> None:
        """Ask, launch and tell until the study holds `n_trials` finished trials."""
        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        self._process_searchspace_config()
        params_conf = self._parse_sweeper_params_config()
        params_conf.extend(arguments)
        is_grid = (
            isinstance(self.sampler, functools.partial) and self.sampler.func == optuna.samplers.GridSampler
        )
        distributions, fixed_params = create_params_from_overrides(params_conf)
        space = dict(self.search_space_distributions or {})
        space.update(distributions)
        if is_grid:
            grid = {name: self._to_grid_sampler_choices(d) for name, d in space.items()}
            self.sampler = self.sampler(grid)
            self.n_trials = min(self.n_trials, math.prod(len(v) for v in grid.values()))
        for name in fixed_params:
            space.pop(name, None)
        directions = self._get_directions()
        _sqlite_dir(self.storage)
        study = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage,
            sampler=self.sampler,
            directions=directions,
            load_if_exists=True,
        )
        if study.trials and not is_grid:
            # a seeded sampler starting afresh in this process would draw the first trials' parameters again
            study.sampler.reseed_rng()
        redo, live = self._recover(study, len(directions))
        finished = len(
            study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED))
        )
        to_go = max(0, self.n_trials - finished - live)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")  # as Hydra's basic sweeper does
        # job numbers go on after any job already in this sweep dir (a rerun into a fixed hydra.sweep.dir)
        taken = [int(p.name) for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()]
        self.job_idx = max(taken, default=-1) + 1
        log.info(
            f"Study {study.study_name} ({self.storage or 'in memory'}): {finished} trials finished, {live} running "
            f"elsewhere, {len(redo)} to rerun; {to_go} of n_trials={self.n_trials} to go. Directions: {directions}"
        )
        while to_go > 0:
            size = min(to_go, max(1, self.n_jobs))
            trials = [Trial(study, redo.pop(0)) for _ in range(min(size, len(redo)))]
            trials += [study.ask() for _ in range(size - len(trials))]
            overrides = self._configure_trials(trials, space, fixed_params)
            for i, trial in enumerate(trials):
                trial.set_user_attr(
                    JOB_ATTR,
                    {
                        "sweep_dir": str(sweep_dir),
                        "num": self.job_idx + i,
                        "host": socket.gethostname(),
                        "pid": os.getpid(),
                    },
                )
            returns = self.launcher.launch(overrides, initial_job_idx=self.job_idx)
            self.job_idx += len(returns)
            failures = 0
            for trial, ret in zip(trials, returns, strict=True):
                values, why = _job_values(ret, len(directions))
                if values is None:
                    failures += 1
                    study.tell(trial, state=TrialState.FAIL)
                    log.warning(f"trial {trial.number} failed: {why}")
                    continue
                try:
                    study.tell(trial, values=values)
                except RuntimeError as exc:  # the grid sampler stops the study when the grid is exhausted
                    if not is_grid:
                        raise
                    log.info(str(exc))
            to_go -= len(trials)
            if failures / len(returns) > self.max_failure_rate:
                log.error(
                    f"{failures} of {len(returns)} trials of the last batch failed (max_failure_rate="
                    f"{self.max_failure_rate}): no further trials are launched"
                )
                break
        self._write_results(study, directions, sweep_dir)

    def _write_results(self, study: optuna.Study, directions: list[str], sweep_dir: Path) -> None:
        """`<sweep dir>/optimization_results.yaml`: the best trial (or the Pareto front) of the whole study."""
        counts = {s.name.lower(): len(study.get_trials(deepcopy=False, states=(s,))) for s in TrialState}
        results: dict[str, Any] = {
            "name": "optuna",
            "study_name": study.study_name,
            "storage": str(self.storage),
            "trials": counts,
        }
        if counts["complete"] == 0:
            log.warning("no trial of the study completed: see the sweep summary for each job's error")
            results.update(best_params=None, best_value=None)
        elif len(directions) < 2:
            best = study.best_trial
            results.update(best_params=best.params, best_value=best.value, best_trial=best.number)
            log.info(f"Best parameters: {best.params}; best value: {best.value}")
        else:
            results["solutions"] = [
                {"params": t.params, "values": t.values, "trial": t.number} for t in study.best_trials
            ]
            log.info(f"{len(study.best_trials)} Pareto-optimal trials")
        OmegaConf.save(OmegaConf.create(results), sweep_dir / "optimization_results.yaml")
