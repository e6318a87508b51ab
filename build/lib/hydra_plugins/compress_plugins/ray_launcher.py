"""`hydra/launcher=ray`: every job of a sweep as one Ray task, on a local Ray instance or a cluster.

hydra-ray-launcher (1.2.2) cannot be installed beside this project: it pins cloudpickle<3, which
joblib>=1.5 (under scikit-learn and the joblib launcher) rules out. This one does what its local
mode does, with `ray.init(address=...)` for a running cluster. Config: conf/hydra/launcher/ray.yaml.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig


class RayLauncher(Launcher):
    """Launch a batch of jobs as Ray tasks and wait for all of them."""

    def __init__(self, address: str | None = None, init: Any = None, remote: Any = None) -> None:
        self.address = address
        self.init = init
        self.remote = remote
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        """Keep what every job needs: the config, the task function and Hydra's context."""
        self.config = config
        self.hydra_context = hydra_context
        self.task_function = task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Run each job's overrides as a Ray task; returns their JobReturns in order."""
        from hydra_plugins.compress_plugins import _ray_core  # ray is imported only when used

        return _ray_core.launch(self, job_overrides, initial_job_idx)
