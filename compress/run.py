"""The entry point: `python -m compress.run [+experiment=NAME] [overrides]` (and `-m` for sweeps)."""

from __future__ import annotations

import os
import sys
import warnings

import hydra
from omegaconf import DictConfig

from compress.errors import CompressError

os.environ.setdefault("WANDB_SILENT", "true")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
# Deprecation chatter from transformers/peft internals, not from this code.
warnings.filterwarnings("ignore", category=FutureWarning)


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    """Run the pipeline; returns the trained compressor's min-over-models equivalence when evaluated."""
    from compress.pipeline import console, run_pipeline
    from compress.secrets import load_env

    load_env()
    try:
        records = run_pipeline(cfg)
    except CompressError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
    ev = records.get("evaluate")
    value = ev.metrics.get("trained/equivalence_min") if ev else None
    return float(value) if value is not None else None


if __name__ == "__main__":
    main()
