"""Process targets for tests/sweeps/test_sweeps.py, in a module of their own: a spawned process imports the
module of its target, and this one imports nothing heavy until the target runs."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any


def locked_job(cfg_yaml: str, marker: str, results: Any) -> None:
    """Run the pipeline with a generate stage that takes 2 s and notes which process ran it."""
    from dataclasses import replace

    from omegaconf import DictConfig, OmegaConf

    from compress import stages
    from compress.pipeline.runner import run_pipeline

    def slow_generate(ctx: Any) -> dict[str, Any]:
        with open(marker, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        time.sleep(2.0)
        (ctx.out / "pairs").mkdir()
        return {"samples": 1}

    stages.STAGES["generate"] = replace(stages.STAGES["generate"], run=slow_generate)
    outcomes: dict[str, str] = {}
    cfg = OmegaConf.create(cfg_yaml)
    assert isinstance(cfg, DictConfig)
    recs = run_pipeline(cfg, outcomes)
    results.put((outcomes["generate"], recs["generate"].fingerprint))


def cache_writer(path: str, worker: int, n: int) -> None:
    """Write n answers every worker also writes, and n of its own, reading each back."""
    from compress.infra.llm.cache import CallCache

    cache = CallCache(Path(path))
    for i in range(n):
        cache.put(f"k{i}", "m", f"answer {i} by {worker}", 1, 1, 0.0)
        cache.put(f"w{worker}-{i}", "m", "own", 1, 1, 0.0)
        assert cache.get(f"k{i}") is not None
    cache.close()
