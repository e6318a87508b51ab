"""Runs the selected stages in order, skipping finished ones by content fingerprint.

Each stage writes into `<run_dir>/.<stage>.tmp` and is renamed to `<run_dir>/<stage>` only when
complete, with `_DONE.json` (fingerprint, inputs, metrics). A crash therefore never touches the
finished stages before it. Finished outputs are also linked into the shared store
(`compress.pipeline.store`), so a rerun, or another job of a sweep, with the same config and inputs
reuses them instead of recomputing.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from omegaconf import DictConfig, OmegaConf

from compress.infra.console import console
from compress.infra.errors import CompressError
from compress.infra.llm.client import LLMSession, LLMSettings
from compress.infra.llm.local_provider import register
from compress.infra.schemas import StageRecord
from compress.infra.tracking import StageLogger, stage_logger
from compress.pipeline import hydra_info, preflight
from compress.pipeline.fingerprint import fingerprint
from compress.pipeline.model_select import resolve_model
from compress.pipeline.store import DONE, publish, read_record, reuse, stage_lock
from compress.report.console import print_run
from compress.stages import ORDER, STAGES, StageContext


def run_pipeline(cfg: DictConfig, outcomes: dict[str, str] | None = None) -> dict[str, StageRecord]:
    """Run the configured stages; returns each stage's record (run, reused or read).

    `outcomes`, when given, receives per stage how its record was obtained: `ran` (computed here),
    `reused` (a finished output with the same fingerprint, from the store or this run dir) or `read`
    (an input taken from this run, the store or resume_from without being a selected stage)."""
    outcomes = {} if outcomes is None else outcomes
    stages = list(cfg.stages)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise CompressError(f"stages={stages}: unknown stage(s) {unknown}; the stages are {list(ORDER)}.")
    resolve_model(cfg, console)  # model=auto -> the largest base model this machine can train, printed
    preflight.check(cfg, stages)
    run_dir = Path(cfg.paths.run_dir)
    store = Path(cfg.paths.store)
    cache = Path(cfg.paths.cache).expanduser()
    resume = Path(cfg.resume_from) if cfg.resume_from else None
    if resume is not None and not resume.is_dir():
        raise CompressError(
            f"resume_from={resume}: no such run dir. Pass a dir under outputs/runs or outputs/multiruns."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    engine = register(cache, str(cfg.llm.local_engine), int(cfg.llm.get("local_batch") or 1))
    job_config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    job_config["llm_local_engine_resolved"] = engine
    job_config["hydra_overrides"] = hydra_info.overrides()
    (group, run_name), tags = hydra_info.wandb_group(cfg, run_dir), hydra_info.tags(cfg)

    records: dict[str, StageRecord] = {}
    dirs: dict[str, Path] = {}
    for stage in ORDER:
        needs = STAGES[stage].needs
        needed_later = any(stage in STAGES[s].needs for s in stages if ORDER.index(s) > ORDER.index(stage))
        if stage not in stages:
            if not needed_later:
                continue
            found = _find_input(stage, cfg, records, run_dir, store, resume)
            if found is None:
                raise CompressError(
                    f"stage {stage!r} is not in stages={stages} and no finished output of it was found "
                    f"(in {run_dir}, the store, or resume_from={resume}). Add {stage} to stages or pass resume_from=RUN_DIR."
                )
            dirs[stage], records[stage] = found
            outcomes[stage] = "read"
            continue
        missing = [n for n in needs if n not in records]
        if missing:
            raise CompressError(f"stage {stage!r} needs {missing} first.")
        fp = fingerprint(stage, cfg, {k: v.fingerprint for k, v in records.items()})
        dest = run_dir / stage
        with stage_lock(store, stage, fp):
            rec = None if cfg.force else reuse(stage, fp, dest, store)
            with stage_logger(
                cfg.logger,
                stage,
                run_dir,
                group,
                [*tags, f"stage:{stage}"],
                job_config,
                f"{run_name}/{stage}",
            ) as log:
                if rec is not None:
                    console.print(
                        f"[green]✓ {stage}[/] finished earlier with the same inputs ({fp}): skipped"
                    )
                    log.summary({**_flat(rec.metrics), "reused": True, "fingerprint": fp})
                    outcomes[stage] = "reused"
                else:
                    rec = _execute(stage, fp, cfg, dest, {n: dirs[n] for n in needs}, cache, log, records)
                    publish(dest, store / stage / fp)
                    log.summary({"fingerprint": fp, "seconds": rec.seconds, "reused": False})
                    outcomes[stage] = "ran"
                if stage == "evaluate":  # what `compress.report wandb:...` reads back
                    log.save(dest / "summary.json", run_dir)
        records[stage], dirs[stage] = rec, dest
    print_run(records, run_dir)
    return records


def _flat(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | str | bool)}


def _find_input(
    stage: str,
    cfg: DictConfig,
    records: dict[str, StageRecord],
    run_dir: Path,
    store: Path,
    resume: Path | None,
) -> tuple[Path, StageRecord] | None:
    if resume is not None and (rec := read_record(resume / stage)) is not None:
        return resume / stage, rec
    if (rec := read_record(run_dir / stage)) is not None:
        return run_dir / stage, rec
    if all(n in records for n in STAGES[stage].needs):
        fp = fingerprint(stage, cfg, {k: v.fingerprint for k, v in records.items()})
        if (rec := read_record(store / stage / fp)) is not None:
            return store / stage / fp, rec
    return None


def _execute(
    stage: str,
    fp: str,
    cfg: DictConfig,
    dest: Path,
    inputs: dict[str, Path],
    cache: Path,
    log: StageLogger,
    records: dict[str, StageRecord],
) -> StageRecord:
    tmp = dest.with_name(f".{stage}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    console.rule(f"[bold]{stage}")
    t0 = time.perf_counter()
    llm = LLMSession(LLMSettings.from_config(cfg.llm, stage, dest.parent))
    try:
        metrics = STAGES[stage].run(
            StageContext(cfg=cfg, out=tmp, inputs=inputs, cache=cache, log=log, llm=llm)
        )
    finally:
        # spending is reported even when the stage stops (budget, outage)
        log.summary(llm.summary())
    metrics.update(llm.summary())
    seconds = time.perf_counter() - t0
    metrics["seconds"] = seconds
    log.summary(_flat(metrics))
    rec = StageRecord(
        stage=stage,
        fingerprint=fp,
        inputs={n: records[n].fingerprint for n in STAGES[stage].needs},
        metrics=metrics,
        seconds=seconds,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (tmp / DONE).write_text(rec.model_dump_json(indent=2))
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    console.print(f"[green]✓ {stage}[/] in {seconds:.1f}s")
    return rec
