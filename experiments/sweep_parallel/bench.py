"""Wall time of one 8-job smoke sweep, serial (Hydra's basic launcher) vs joblib with 2 workers, and
what the shared stage store and LLM answer cache saved in each.

    .venv/bin/python experiments/sweep_parallel/bench.py [--workers 2] [--keep DIR] [-- OVERRIDE ...]

Each variant runs `python -m compress.run -m` on a fresh outputs dir (empty store, empty answer
cache), so both do the same work: one generate and one validate (the sweep only varies train keys,
so every job needs the same dataset), then train and evaluate per job. The savings are read from
each sweep's `sweep_summary.json`. Writes results.json and results.md beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# 8 jobs: 4 LoRA ranks x 2 learning rates; smaller than the smoke preset's defaults so that the two
# sweeps take minutes, not hours, on 2 CPU cores (override after `--`).
SWEEP = ["train.lora.rank=2,4,8,16", "train.lr=1e-4,3e-4"]
BASE = ["+experiment=smoke", "data.n_samples=8", "evaluate.max_samples=1", "train.steps=2", "logger=none"]


# One thread per process for torch/BLAS, as joblib's workers get (loky sets cpu_count // n_jobs):
# the serial_1thread variant separates that effect from running two jobs at once.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def run_sweep(
    name: str, launcher: list[str], overrides: list[str], root: Path, env_extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """One sweep on a fresh outputs dir; returns its wall time, load and summary."""
    out = root / name / "outputs"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "WANDB_SILENT": "true",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        **(env_extra or {}),
    }
    cmd = [sys.executable, "-m", "compress.run", "-m", *launcher, *overrides, f"paths.outputs={out}"]
    print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
    load0 = os.getloadavg()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    load1 = os.getloadavg()
    # CPU seconds of the sweep and every process under it (each reaped by its parent): with the
    # same work, a higher CPU/wall ratio is the parallelism the machine's other users left room for
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    (root / f"{name}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(
            f"[{name}] failed ({proc.returncode}); log: {root / f'{name}.log'}\n{proc.stderr[-3000:]}"
        )
    (sweep_dir,) = sorted((out / "multiruns").iterdir())
    summary = json.loads((sweep_dir / "sweep_summary.json").read_text())
    print(f"[{name}] {wall:.0f}s, {summary['counts']}", flush=True)
    return {
        "name": name,
        "command": " ".join([*(f"{k}={v}" for k, v in (env_extra or {}).items()), "python", *cmd[1:-1]]),
        "wall_s": wall,
        "cpu_s": cpu,
        "loadavg_1m_start_end": [round(load0[0], 2), round(load1[0], 2)],
        "summary": summary,
    }


def _row(r: dict[str, Any]) -> str:
    s = r["summary"]
    st, llm = s["savings"]["stages"], s["savings"]["llm_cache"]
    job_s = sum(j["seconds"] or 0 for j in s["jobs"])
    cpu = f"{r['cpu_s']:.0f} ({r['cpu_s'] / r['wall_s']:.2f})" if "cpu_s" in r else "n/a"
    return (
        f"| {r['name']} | {r['wall_s']:.0f} | {cpu} | {job_s:.0f} | {s['counts']['completed']}/{s['counts']['jobs']} | "
        f"{st['ran']} / {st['reused']} | {st['seconds_saved']:.0f} | {st['llm_calls_saved']} | "
        f"{llm['calls']} / {llm['cache_hits']} ({llm['hit_rate']:.0%}) | {llm['seconds_saved_est']:.0f} | "
        f"{r['loadavg_1m_start_end'][0]} → {r['loadavg_1m_start_end'][1]} |"
    )


def write_markdown(results: list[dict[str, Any]], path: Path) -> None:
    """results.md: the table and what each column means."""
    serial = next(r for r in results if r["name"] == "serial")
    speedups = [
        f"Speed-up of {r['name']} over serial: {serial['wall_s'] / r['wall_s']:.2f}x."
        for r in results
        if r is not serial
    ]
    lines = [
        "# 8-job smoke sweep: serial vs joblib",
        "",
        f"Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
        f"written {time.strftime('%Y-%m-%d %H:%M')}. Each sweep on a fresh outputs dir (empty store and cache).",
        "",
        f"Sweep: `{' '.join(BASE + SWEEP)}`",
        "",
        "| variant | wall s | CPU s (CPU/wall) | sum of job s | jobs ok | stages computed / reused | stage s saved | "
        "LLM calls saved by reuse | LLM calls made / cache hits | cache s saved (est.) | load avg 1m |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *[_row(r) for r in results],
        "",
        *speedups,
        "",
        "- *CPU s*: user + system seconds of the sweep and all its processes; CPU/wall is how many of the "
        "cores it kept busy on average (the machine's other users take the rest).",
        "- *stages computed / reused*: stage runs over all jobs that computed their output vs took it from the "
        "stage store (the same fingerprint, computed by another job); *stage s saved* adds up what the reused "
        "stages had cost where they ran, *LLM calls saved by reuse* the calls they had made or looked up.",
        "- *LLM calls made / cache hits*: from the jobs' `llm_ledger.jsonl`; a hit is an answer another job (or "
        "stage) had already paid for. *cache s saved* is hits × seconds per call at the achieved concurrency "
        "(per job, stage and model: the span of its uncached calls over their number).",
        "",
        "Commands:",
        "",
        *[f"    {r['command']} paths.outputs=..." for r in results],
    ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    """Run both sweeps and write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2, help="joblib workers")
    ap.add_argument(
        "--keep", type=Path, default=None, help="keep the outputs here (default: a temp dir, removed)"
    )
    ap.add_argument(
        "--variants",
        default="serial,joblib",
        help="comma-separated, in order: serial, joblib, serial_1thread (serial with one torch/BLAS thread)",
    )
    ap.add_argument("overrides", nargs="*", help="replace the base overrides (after --)")
    args = ap.parse_args()
    overrides = (args.overrides or BASE) + SWEEP
    variants = {
        "serial": lambda: run_sweep("serial", [], overrides, root),
        "joblib": lambda: run_sweep(
            f"joblib_{args.workers}",
            ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={args.workers}"],
            overrides,
            root,
        ),
        "serial_1thread": lambda: run_sweep(
            "serial_1thread", [], [*overrides, "backend.threads=1"], root, ONE_THREAD
        ),
    }
    chosen = [v.strip() for v in args.variants.split(",") if v.strip()]
    if "serial" not in chosen or any(v not in variants for v in chosen):
        raise SystemExit(f"--variants={args.variants}: choose from {sorted(variants)}, serial included")
    root = args.keep or Path(tempfile.mkdtemp(prefix="sweep_bench_"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        results = [variants[v]() for v in chosen]
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    (HERE / "results.json").write_text(json.dumps(results, indent=2, default=str))
    write_markdown(results, HERE / "results.md")
    print((HERE / "results.md").read_text())


if __name__ == "__main__":
    main()
