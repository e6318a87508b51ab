"""Read pipeline runs back from W&B (online) as local run dirs, so `compress.report` compares them.

`python -m compress.report wandb:ENTITY/PROJECT[/GROUP]` fetches every evaluate-stage run of the
project (of one group: a run dir or a sweep dir relative to `outputs/`, as the pipeline names it),
downloads the `evaluate/summary.json` each saved, takes the other stages' metrics from the summaries
of the stage runs beside it, and lays them out under `<dest>/<run name>/` like the run dirs the
pipeline writes (`runs/<run>`, `multiruns/<sweep>/<job>`), with the job's config in `.hydra/`.
From there the report reads them like any other run: the same tables, plots and W&B Report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from compress.infra.errors import CompressError
from compress.stages import ORDER as STAGES

PREFIX = "wandb:"
SUMMARY_FILE = "evaluate/summary.json"
STAGES_FILE = "stages.json"


def is_spec(arg: str | Path) -> bool:
    """Whether a report argument names W&B runs rather than a local dir."""
    return str(arg).startswith(PREFIX)


def parse_spec(spec: str) -> tuple[str | None, str, str | None]:
    """`wandb:ENTITY/PROJECT[/GROUP...]` or `wandb:PROJECT` -> (entity, project, group)."""
    parts = spec[len(PREFIX) :].strip("/").split("/")
    if not parts or not parts[0]:
        raise CompressError(
            f"{spec!r}: name a W&B project, as wandb:ENTITY/PROJECT or wandb:ENTITY/PROJECT/GROUP "
            "(GROUP: the run or sweep dir under outputs/, e.g. runs/2026-11-22_08-00-00_default)."
        )
    if len(parts) == 1:
        return None, parts[0], None
    return parts[0], parts[1], "/".join(parts[2:]) or None


def _api() -> Any:
    if os.environ.get("WANDB_MODE") in ("offline", "disabled"):
        raise CompressError(
            f"reading runs from W&B needs it online, and WANDB_MODE={os.environ['WANDB_MODE']}: unset it. "
            "Local run dirs are read offline: pass their paths instead."
        )
    import wandb

    try:
        return wandb.Api(timeout=60)
    except Exception as exc:  # no key, or the server is unreachable
        raise CompressError(
            f"reading runs from W&B: {type(exc).__name__}: {exc}. Set WANDB_API_KEY (or run `wandb login`) "
            "on a machine that reaches the W&B server; local run dirs are read offline."
        ) from exc


def _safe_rel(name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise CompressError(f"W&B run name {name!r} is not a run dir name the pipeline writes")
    return rel


def _stage_metrics(run: Any, stage: str) -> dict[str, Any]:
    prefix = f"{stage}/"
    out = {}
    for k, v in dict(run.summary).items():
        if k.startswith(prefix) and isinstance(v, int | float | str | bool):
            out[k[len(prefix) :]] = v
    return out


def fetch(spec: str, dest: Path, api: Any = None) -> list[Path]:
    """Materialise the W&B runs `spec` names as run dirs under `dest`; returns them (newest last)."""
    entity, project, group = parse_spec(spec)
    api = api if api is not None else _api()
    path = f"{entity}/{project}" if entity else project
    filters: dict[str, Any] = {"jobType": "evaluate", "state": "finished"}
    if group:
        filters["group"] = group
    evaluate_runs = list(api.runs(path, filters=filters))
    if not evaluate_runs:
        raise CompressError(
            f"{spec}: no finished evaluate run in W&B project {path}"
            + (f" group {group!r}" if group else "")
            + ". The pipeline logs one W&B run per stage when logger=wandb_online; check the project and group."
        )
    groups = {r.group for r in evaluate_runs}
    siblings: dict[str, list[Any]] = {
        g: list(api.runs(path, filters={"group": g, "state": "finished"})) for g in groups
    }
    out: list[Path] = []
    for ev in evaluate_runs:
        run_name = str(ev.name).rsplit("/", 1)[0]
        local = dest.joinpath(*_safe_rel(run_name).parts)
        try:
            ev.file(SUMMARY_FILE).download(root=str(local), replace=True)
        except Exception as exc:
            raise CompressError(
                f"{spec}: W&B run {ev.name} ({ev.id}) has no {SUMMARY_FILE}: it was logged before the pipeline "
                f"saved it. Rerun its evaluate stage online (stages=[evaluate] resume_from=RUN_DIR) or pass the run dir."
            ) from exc
        stages: dict[str, dict[str, Any]] = {}
        for sib in siblings[ev.group]:
            stage = str(sib.job_type)
            if stage in STAGES and str(sib.name) == f"{run_name}/{stage}":
                metrics = _stage_metrics(sib, stage)
                seconds = metrics.pop("seconds", None)
                stages[stage] = {**metrics, "seconds": seconds}
        (local / STAGES_FILE).write_text(json.dumps(stages, indent=2, sort_keys=True))
        hydra = local / ".hydra"
        hydra.mkdir(parents=True, exist_ok=True)
        config = dict(ev.config)
        overrides = config.pop("hydra_overrides", None) or []
        (hydra / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        (hydra / "overrides.yaml").write_text(yaml.safe_dump(list(overrides)))
        out.append(local)
    print(f"W&B: {len(out)} run(s) of {path}" + (f" group {group}" if group else "") + f" under {dest}")
    return sorted(out)
