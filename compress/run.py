"""The entry point: `python -m compress.run [+experiment=NAME] [overrides]` (and `-m` for sweeps).

Thin on purpose (as lightning-hydra-template's train.py): Hydra composes the config, and
`compress.pipeline.job.run_job` runs the pipeline and returns `optimize.metric` (see
compress/sweep/objective.py), which is what an Optuna sweep optimises. The task function refers to
importable names only, so parallel launchers (joblib, submitit, Ray) can pickle it.
"""

from __future__ import annotations

import os
import warnings

# before the libraries below read them at import
os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# transformers' "Loading weights" bars (they follow huggingface_hub's switch): the stages show their own
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
# Deprecation chatter from transformers/peft internals, not from this code.
warnings.filterwarnings("ignore", category=FutureWarning)

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from compress.pipeline.config_store import register_configs  # noqa: E402
from compress.pipeline.job import run_job  # noqa: E402

# the conf/ YAMLs name their schemas in their defaults lists: store them before Hydra composes
register_configs()


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float] | None:
    """Run one job of the pipeline; returns `optimize.metric` (NaN for a failed sweep job)."""
    return run_job(cfg)


if __name__ == "__main__":
    main()
