"""`hydra/sweeper=compress_optuna`: hydra-optuna-sweeper's search, resumable and tolerant of failed trials.

What it adds to `hydra/sweeper=optuna` (whose config keys it takes unchanged):
- `n_trials` is the study's total: rerunning the same search on a persistent `storage` (SQLite under
  outputs/) runs only the trials still missing. A trial left running by an interrupted search is
  told the value its job recorded if the job had finished (`<job dir>/job_status.json`), else it
  runs again with the same parameters; finished trials are never redone. A resumed study's sampler
  is re-seeded (else a seeded sampler would draw the first trials' parameters again), so a resumed
  search is not bit-for-bit the one an uninterrupted run would have made.
- a failed trial (the job returned NaN or raised) is marked FAIL and the search goes on; with
  `max_failure_rate` < 1 it stops launching new trials (without raising) once a batch fails more
  often than that, so the sweep's summary and report are still written.
- a search in which no trial completed ends with a message instead of an exception.
"""

from dataclasses import dataclass
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_optuna_sweeper.config import OptunaSweeperConf
from omegaconf import DictConfig

from compress.pipeline.config_store import register_configs


class ResumableOptunaSweeper(Sweeper):
    """Hydra's Optuna sweeper with resume and failed-trial handling (see the module docstring)."""

    def __init__(
        self,
        sampler: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        search_space: DictConfig | None,
        custom_search_space: str | None,
        params: DictConfig | None,
    ) -> None:
        from hydra_plugins.compress_plugins._optuna_core import ResumableOptunaSweeperImpl

        self.sweeper = ResumableOptunaSweeperImpl(
            sampler,
            direction,
            storage,
            study_name,
            n_trials,
            n_jobs,
            max_failure_rate,
            search_space,
            custom_search_space,
            params,
        )

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Instantiate the launcher (Hydra's hook), with the config schemas stored for its trials' configs."""
        register_configs()
        self.sweeper.setup(hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> None:
        """Run the remaining trials of the study."""
        return self.sweeper.sweep(arguments)


@dataclass
class ResumableOptunaSweeperConf(OptunaSweeperConf):
    """hydra-optuna-sweeper's config with this sweeper as target; failed trials never stop the search."""

    _target_: str = "hydra_plugins.compress_plugins.optuna_sweeper.ResumableOptunaSweeper"
    max_failure_rate: float = 1.0
    # trials asked at once and launched together: set it to the launcher's parallel jobs
    n_jobs: int = 1


ConfigStore.instance().store(
    group="hydra/sweeper",
    name="compress_optuna",
    node=ResumableOptunaSweeperConf,
    provider="compress",
)
