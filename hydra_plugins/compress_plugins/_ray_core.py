"""The Ray launcher's work (imported only when a sweep uses it: importing ray takes seconds)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ray
from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from compress.pipeline.config_store import register_configs
from compress.sweep.jobs import crashed_job_return

log = logging.getLogger(__name__)


def _plain(node: Any) -> dict[str, Any]:
    if node is None:
        return {}
    data = OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    assert isinstance(data, dict)
    # unset keys are left to Ray: connecting to a cluster refuses num_cpus and the like
    return {str(k): v for k, v in data.items() if v is not None}


def start_ray(address: str | None, init: dict[str, Any]) -> None:
    """Start a local Ray instance (address null) or connect to a running cluster, once per process."""
    if ray.is_initialized():
        return
    if address:
        log.info(f"Ray: connecting to the cluster at {address}")
        ray.init(address=address, **{k: v for k, v in init.items() if k not in ("num_cpus", "num_gpus")})
    else:
        log.info(f"Ray: starting a local instance ({init})")
        ray.init(**init)


def _run_job(
    hydra_context: HydraContext,
    sweep_config: DictConfig,
    task_function: TaskFunction,
    singleton_state: dict[Any, Any],
) -> JobReturn:
    """In the Ray worker: restore Hydra's state and run the job as Hydra's own launchers do."""
    setup_globals()
    Singleton.set_state(singleton_state)
    HydraConfig.instance().set_config(sweep_config)
    return run_job(
        hydra_context=hydra_context,
        task_function=task_function,
        config=sweep_config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
    )


def launch(
    launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
) -> Sequence[JobReturn]:
    """Submit every job, then collect them in order; a job whose worker died is recorded as failed."""
    setup_globals()
    register_configs()  # each job's config is composed here, onto the schemas
    assert launcher.config is not None and launcher.hydra_context is not None
    assert launcher.task_function is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    start_ray(launcher.address, _plain(launcher.init))
    options = _plain(launcher.remote)
    task = ray.remote(**options)(_run_job) if options else ray.remote(_run_job)
    log.info(f"Ray launcher: {len(job_overrides)} jobs ({options}), sweep dir {sweep_dir}")
    singleton_state = Singleton.get_state()
    submitted = []
    for i, overrides in enumerate(job_overrides):
        idx = initial_job_idx + i
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        sweep_config = launcher.hydra_context.config_loader.load_sweep_config(
            launcher.config, list(overrides)
        )
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
            sweep_config.hydra.job.num = idx
        ref = task.remote(launcher.hydra_context, sweep_config, launcher.task_function, singleton_state)
        submitted.append((ref, sweep_config))
    results: list[JobReturn] = []
    for ref, sweep_config in submitted:
        try:
            results.append(ray.get(ref))
        except ray.exceptions.RayError as exc:
            # the worker process died (killed for memory, a lost node) or Ray could not run the task:
            # record the job as failed and go on with the others
            log.error(f"job {sweep_config.hydra.job.num} did not return: {type(exc).__name__}: {exc}")
            results.append(crashed_job_return(sweep_config, exc))
    return results
