"""The runs a report compares: found under run or sweep dirs, each read into a `RunInfo`.

The report, the notebook (notebooks/analysis.ipynb) and the W&B Report read runs through these, so
the three views always show the same runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compress.infra.schemas import EvalSummary
from compress.stages import ORDER


@dataclass
class RunInfo:
    """What the report shows of one pipeline run."""

    path: Path
    label: str
    summary: EvalSummary
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)


def find_runs(paths: list[Path]) -> list[Path]:
    """Run dirs (holding evaluate/summary.json) at or below each path, in a stable order."""
    found: list[Path] = []
    for p in paths:
        if (p / "evaluate" / "summary.json").is_file():
            found.append(p)
        else:
            # not the stage store's copies, nor the copy each W&B run keeps under wandb/*/files/
            found += sorted(
                s.parent.parent
                for s in p.rglob("evaluate/summary.json")
                if not {"store", "wandb"} & set(s.relative_to(p).parts)
            )
    return list(dict.fromkeys(found))


def _label(run: Path) -> str:
    overrides = run / ".hydra" / "overrides.yaml"
    if overrides.is_file():
        items = [
            o for o in yaml.safe_load(overrides.read_text()) or [] if not o.startswith(("paths.", "hydra."))
        ]
        if items:
            return f"{run.name}: " + " ".join(items)
    return run.name


def load_run(run: Path) -> RunInfo:
    """Read a run dir's evaluation summary and every finished stage's metrics."""
    summary = EvalSummary.model_validate_json((run / "evaluate" / "summary.json").read_text())
    stages = {}
    fetched = run / "stages.json"  # a run read back from W&B (compress.wandb_runs): its stage runs' metrics
    if fetched.is_file():
        stages = json.loads(fetched.read_text())
    for stage in ORDER:
        done = run / stage / "_DONE.json"
        if done.is_file():
            rec = json.loads(done.read_text())
            stages[stage] = {**rec["metrics"], "seconds": rec["seconds"]}
    return RunInfo(run, _label(run), summary, stages)


def load_runs(paths: list[Path]) -> list[RunInfo]:
    """Every run at or below `paths` (run dirs or sweep dirs), loaded; raises SystemExit when there is none."""
    runs = [load_run(p) for p in find_runs(paths)]
    if not runs:
        raise SystemExit(f"no run with evaluate/summary.json under {', '.join(map(str, paths))}")
    return runs


def newest_runs_dir(outputs: Path) -> Path:
    """The newest run dir or sweep dir under `outputs/runs` and `outputs/multiruns`.

    Their names start with the time (conf/hydra/default.yaml), so the newest sorts last whatever the
    file times say (hard links from the store keep old mtimes).
    """
    dirs = [d for sub in ("runs", "multiruns") if (outputs / sub).is_dir() for d in (outputs / sub).iterdir()]
    for d in sorted((d for d in dirs if d.is_dir()), key=lambda d: d.name, reverse=True):
        if find_runs([d]):
            return d
    raise SystemExit(f"no finished run under {outputs}/runs or {outputs}/multiruns")
