"""Runs the selected stages in order, skipping finished ones by content fingerprint.

Each stage writes into `<run_dir>/.<stage>.tmp` and is renamed to `<run_dir>/<stage>` only when
complete, with `_DONE.json` (fingerprint, inputs, metrics). A crash therefore never touches the
finished stages before it. Finished outputs are also linked into a shared store keyed by
`<stage>/<fingerprint>`, so a rerun, or another job of a sweep, with the same config and inputs
reuses them instead of recomputing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from filelock import FileLock, Timeout
from omegaconf import Container, DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

import compress
from compress.errors import CompressError
from compress.llm.client import LLMSession, LLMSettings
from compress.schemas import StageRecord
from compress.stages import ORDER, STAGES, StageContext
from compress.tracking import StageLogger

DONE = "_DONE.json"
# Bump a stage's version when its output for the same config changes meaning.
STAGE_VERSIONS = {"generate": 1, "validate": 1, "train": 1, "evaluate": 1}
NEEDS = {"generate": [], "validate": ["generate"], "train": ["validate"], "evaluate": ["validate", "train"]}
console = Console(stderr=True, width=None if Console(stderr=True).is_terminal else 160)


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, Container) else node


def _sub(cfg: DictConfig, keys: list[str]) -> dict[str, Any]:
    return {k: _plain(OmegaConf.select(cfg, k)) for k in keys}


# Keys that never change a stage's output: a search over them reuses the stage (probes and metric
# weights are read from validate on; torch's thread count changes speed, not the adapter).
_IGNORED = {"generate": {"probes", "metric"}, "train": {"threads"}}


def _drop(node: Any, names: set[str]) -> Any:
    """`node` without the keys in `names`, at any depth (a mixed domain nests its parts' settings)."""
    if isinstance(node, dict):
        return {k: _drop(v, names) for k, v in node.items() if k not in names}
    if isinstance(node, list):
        return [_drop(v, names) for v in node]
    return node


def stage_config(stage: str, cfg: DictConfig) -> dict[str, Any]:
    """The part of the config that decides a stage's output."""
    keys = {
        "generate": ["data", "domain", "teacher", "validation.models", "tokens"],
        "validate": ["validation", "domain"],
        "train": [
            "train",
            "backend",
            "model",
            "domain.instruction",
            "seed",
        ],
        "evaluate": ["evaluate", "validation", "domain", "tokens"],
    }[stage]
    return cast(dict[str, Any], _drop(_sub(cfg, keys), _IGNORED.get(stage, set())))


def fingerprint(stage: str, cfg: DictConfig, upstream: dict[str, str]) -> str:
    """Content hash of the stage's config, its inputs' fingerprints and the stage's code version."""
    payload = {
        "stage": stage,
        "version": STAGE_VERSIONS[stage],
        "package": compress.__version__,
        "config": stage_config(stage, cfg),
        "inputs": {k: upstream[k] for k in NEEDS[stage]},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]


def read_record(stage_dir: Path) -> StageRecord | None:
    """The record of a finished stage dir, or None."""
    path = stage_dir / DONE
    if not path.is_file():
        return None
    return StageRecord.model_validate_json(path.read_text())


def _link_copy(src: Path, dst: Path) -> None:
    # a name of this process's own: a sweep job may link the same output beside another job
    tmp = dst.with_name(f".{dst.name}.link-tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        shutil.copytree(src, tmp, copy_function=os.link)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)


def _overrides() -> list[str]:
    """The job's command-line overrides (the report labels runs by them), outside Hydra none."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return [str(o) for o in HydraConfig.get().overrides.task]
    except ValueError:
        return []


def _tags(cfg: DictConfig) -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        choices = HydraConfig.get().runtime.choices
        tags = [f"{k}:{v}" for k, v in choices.items() if v and not str(k).startswith("hydra")]
    except ValueError:
        tags = []
    return [*tags, f"name:{cfg.name}"]


def _rel(path: Path, outputs: Path) -> str:
    try:
        return str(path.relative_to(outputs))
    except ValueError:
        return path.name


def _group(cfg: DictConfig, run_dir: Path) -> tuple[str, str]:
    """W&B group and run-name prefix: a sweep's jobs share the sweep dir as group, each named by its
    job dir; a single run is its own group."""
    outputs = Path(cfg.paths.outputs)
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        hc = HydraConfig.get()
        if hc.mode == RunMode.MULTIRUN:
            root = outputs.resolve()
            return _rel(Path(hc.sweep.dir).resolve(), root), _rel(run_dir.resolve(), root)
    except ValueError:  # no Hydra app (run_pipeline called directly)
        pass
    name = _rel(run_dir, outputs)
    return name, name


@contextmanager
def stage_lock(store: Path, stage: str, fp: str) -> Iterator[None]:
    """Hold the store's lock for one stage fingerprint while it is looked up, computed and published,
    so that of two sweep jobs needing the same output one computes it and the other reuses it.

    An OS lock (flock): it is released when its holder dies, and works across the jobs of a SLURM
    array on a shared filesystem that supports flock (NFSv4, Lustre, GPFS).
    """
    path = store / ".locks" / f"{stage}-{fp}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        console.print(
            f"[yellow]… {stage}[/] ({fp}) is being computed by another job: waiting for it ({path})"
        )
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def run_pipeline(cfg: DictConfig, outcomes: dict[str, str] | None = None) -> dict[str, StageRecord]:
    """Run the configured stages; returns each stage's record (run, reused or read).

    `outcomes`, when given, receives per stage how its record was obtained: `ran` (computed here),
    `reused` (a finished output with the same fingerprint, from the store or this run dir) or `read`
    (an input taken from this run, the store or resume_from without being a selected stage)."""
    outcomes = {} if outcomes is None else outcomes
    from compress import preflight
    from compress.llm.local_provider import register

    stages = list(cfg.stages)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise CompressError(f"stages={stages}: unknown stage(s) {unknown}; the stages are {ORDER}.")
    from compress.model_select import resolve_model

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
    engine = register(cache, str(cfg.llm.local_engine))
    job_config = cast(dict[str, Any], OmegaConf.to_container(cfg, resolve=True))
    job_config["llm_local_engine_resolved"] = engine
    job_config["hydra_overrides"] = _overrides()
    (group, run_name), tags = _group(cfg, run_dir), _tags(cfg)

    records: dict[str, StageRecord] = {}
    dirs: dict[str, Path] = {}
    for stage in ORDER:
        needed_later = any(stage in NEEDS[s] for s in stages if ORDER.index(s) > ORDER.index(stage))
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
        missing = [n for n in NEEDS[stage] if n not in records]
        if missing:
            raise CompressError(f"stage {stage!r} needs {missing} first.")
        fp = fingerprint(stage, cfg, {k: v.fingerprint for k, v in records.items()})
        dest = run_dir / stage
        with stage_lock(store, stage, fp):
            rec = None if cfg.force else _reuse(stage, fp, dest, store)
            with StageLogger(
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
                    rec = _execute(
                        stage, fp, cfg, dest, {n: dirs[n] for n in NEEDS[stage]}, cache, log, records
                    )
                    _publish(dest, store / stage / fp)
                    log.summary({"fingerprint": fp, "seconds": rec.seconds, "reused": False})
                    outcomes[stage] = "ran"
                if stage == "evaluate":  # what `compress.report wandb:...` reads back
                    log.save(dest / "summary.json", run_dir)
        records[stage], dirs[stage] = rec, dest
    _print_summary(records, run_dir)
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
    if all(n in records for n in NEEDS[stage]):
        fp = fingerprint(stage, cfg, {k: v.fingerprint for k, v in records.items()})
        if (rec := read_record(store / stage / fp)) is not None:
            return store / stage / fp, rec
    return None


def _reuse(stage: str, fp: str, dest: Path, store: Path) -> StageRecord | None:
    rec = read_record(dest)
    if rec is not None and rec.fingerprint == fp:
        return rec
    stored = store / stage / fp
    rec = read_record(stored)
    if rec is not None:
        _link_copy(stored, dest)
        return rec
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
        metrics = STAGES[stage](StageContext(cfg=cfg, out=tmp, inputs=inputs, cache=cache, log=log, llm=llm))
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
        inputs={n: records[n].fingerprint for n in NEEDS[stage]},
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


def _publish(src: Path, stored: Path) -> None:
    if read_record(stored) is None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        _link_copy(src, stored)


def _print_summary(records: dict[str, StageRecord], run_dir: Path) -> None:
    table = Table(title=f"run {run_dir}")
    for col in ("stage", "seconds", "fingerprint"):
        table.add_column(col)
    for name, rec in records.items():
        table.add_row(name, f"{rec.seconds:.1f}", rec.fingerprint)
    console.print(table)
    summary = run_dir / "evaluate" / "summary.json"
    if summary.is_file():
        from compress.stages import read_summary

        s = read_summary(run_dir)
        t = Table(
            title=f"evaluation (tokens: {s.tokenizer}; equivalence: min over {', '.join(s.validator_models)})"
        )
        for col in (
            "method",
            "n",
            "reduction",
            "reduction cl100k",
            "equiv (min)",
            "pass rate",
            "facts kept",
            "p50 s",
            "p95 s",
            "worst model",
        ):
            t.add_column(col)
        for m in s.methods:
            t.add_row(
                m.method,
                str(m.n),
                f"{m.token_reduction:.1%}",
                f"{m.token_reduction_cl100k:.1%}",
                f"{m.equivalence_min:.3f}",
                f"{m.pass_rate:.0%}",
                f"{m.fact_recall:.0%}",
                f"{m.latency_p50_s:.2f}",
                f"{m.latency_p95_s:.2f}",
                m.worst_model,
            )
        console.print(t)
