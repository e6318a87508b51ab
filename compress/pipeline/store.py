"""The content-addressed stage store: finished stage dirs, their records, links and locks.

A finished stage dir holds `_DONE.json` (its `StageRecord`). Finished outputs are hard-linked into
`<store>/<stage>/<fingerprint>`, so a rerun, or another job of a sweep, with the same config and inputs
reuses them instead of recomputing; one OS lock per fingerprint makes sure only one job computes it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from compress.infra.console import console
from compress.infra.schemas import StageRecord

DONE = "_DONE.json"


def read_record(stage_dir: Path) -> StageRecord | None:
    """The record of a finished stage dir, or None."""
    path = stage_dir / DONE
    if not path.is_file():
        return None
    return StageRecord.model_validate_json(path.read_text())


def link_copy(src: Path, dst: Path) -> None:
    """Copy a dir as hard links (a real copy across filesystems), replacing `dst` atomically."""
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


def reuse(stage: str, fp: str, dest: Path, store: Path) -> StageRecord | None:
    """The finished output with this fingerprint, in `dest` already or linked there from the store."""
    rec = read_record(dest)
    if rec is not None and rec.fingerprint == fp:
        return rec
    stored = store / stage / fp
    rec = read_record(stored)
    if rec is not None:
        link_copy(stored, dest)
        return rec
    return None


def publish(src: Path, stored: Path) -> None:
    """Link a finished stage dir into the store (once: the first job to finish it wins)."""
    if read_record(stored) is None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        link_copy(src, stored)
