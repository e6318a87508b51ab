"""Sweeps that scale: Optuna searches that resume, failed jobs recorded while the sweep goes on, the
same sweep under joblib, submitit and Ray, jobs sharing the stage store and the LLM answer cache.

The sweeps run `python -m compress.run -m` on the bundled model, as a user would. To stay cheap they
sweep validate-stage keys on the smoke preset with `stages=[generate, validate]`: one generate and one
set of validator answers (made once per module by `shared`) serve every job, through the stage store
and the answer cache; each job then re-scores and re-gates. The slow tests run whole pipelines.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from compress.infra.errors import CompressError
from compress.infra.llm.cache import CallCache
from compress.infra.schemas import StageRecord
from compress.pipeline.store import read_record
from compress.sweep import jobs, objective
from compress.sweep.summary import SUMMARY_FILE
from tests.conftest import CACHE, ROOT, run_cli
from tests.support import sweep_workers

CHEAP = [
    "+experiment=smoke",
    "data.n_samples=4",
    "data.max_words=60",
    "logger=none",
    "stages=[generate,validate]",
]
PASS_RATE = "optimize.metric=validate/pass_rate_all_gates"
OPTUNA = [
    "hydra/sweeper=compress_optuna",
    "hydra.sweeper.direction=maximize",
    "hydra.sweeper.n_trials=4",
    "hydra.sweeper.sampler.seed=0",
    "hydra.sweeper.study_name=smoke4",
]


def _env() -> dict[str, str]:
    env = {
        "HF_HUB_OFFLINE": "1",
        "WANDB_SILENT": "true",
        "COMPRESS_CACHE": str(CACHE),
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    return {**os.environ, **env}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An outputs dir whose store holds the smoke generate/validate and whose cache holds their answers."""
    root = tmp_path_factory.mktemp("sweeps")
    out = root / "outputs"
    proc = subprocess.run(
        [sys.executable, "-m", "compress.run", *CHEAP, f"paths.outputs={out}"],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def _sweep_dirs(out: Path) -> list[Path]:
    return sorted((out / "multiruns").iterdir()) if (out / "multiruns").is_dir() else []


def _summary(sweep_dir: Path) -> dict[str, Any]:
    return json.loads((sweep_dir / SUMMARY_FILE).read_text())


def _compose(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)


# -- configs and metric names (no model) -----------------------------------------------------------
@pytest.mark.parametrize("preset", sorted(p.stem for p in (ROOT / "conf" / "hparams_search").glob("*.yaml")))
def test_hparams_search_presets_compose_with_a_known_metric(preset: str) -> None:
    cfg = _compose([f"hparams_search={preset}", "+experiment=smoke"])
    assert cfg.hydra.sweeper._target_.endswith("ResumableOptunaSweeper")
    assert cfg.hydra.sweeper.params, preset
    names = objective.check_metric(cfg)  # every preset optimises a metric the evaluate stage records
    sweeper = cast(dict[str, Any], OmegaConf.to_container(cfg.hydra.sweeper, resolve=False))
    assert sweeper["direction"] == "${optimize.direction}" and len(objective.directions(cfg)) == len(names)
    assert str(sweeper["storage"]).startswith("sqlite:///${paths.outputs}/optuna/")


@pytest.mark.parametrize(
    ("launcher", "target"),
    [
        ("joblib", "JoblibLauncher"),
        ("submitit_local", "LocalLauncher"),
        ("slurm", "SlurmLauncher"),
        ("ray", "compress_plugins.ray_launcher.RayLauncher"),
    ],
)
def test_launchers_compose(launcher: str, target: str) -> None:
    cfg = _compose([f"hydra/launcher={launcher}", "+experiment=smoke"])
    assert str(cfg.hydra.launcher._target_).endswith(target)
    if launcher == "slurm":
        assert cfg.hydra.launcher.timeout_min == 240 and "partition" in cfg.hydra.launcher
    if launcher == "ray":
        assert cfg.hydra.launcher.address is None and cfg.hydra.launcher.remote.num_cpus == 1


def test_metric_names_are_checked_before_anything_runs(tmp_path: Path) -> None:
    cfg = _compose(["+experiment=smoke"])
    assert objective.check_metric(cfg) == ["trained/equivalence_min"]
    for ok in ("evaluate/trained/token_reduction", "curve/truncate@0.5/equivalence_min", "validate/x"):
        cfg.optimize.metric = ok  # other stages' names are checked when the stage has run
        objective.check_metric(cfg)
    cfg.evaluate.tasks = ["qa"]  # gold-answer tasks add their own names
    cfg.optimize.metric = "task/qa/trained/local/gemma3-270m/accuracy"
    objective.check_metric(cfg)
    cfg.evaluate.tasks = ["cloze", "needle"]  # at each rate, and the generative at its own budget
    for name in (
        "task/needle@0.25/bm25/local/gemma3-270m/accuracy",
        "task/needle/trained/answer_kept/accuracy",
        "task/needle/trained/local/gemma3-270m/by_position/4",
        "compare/trained-vs-tail/task:needle/local/gemma3-270m/diff",
    ):
        cfg.optimize.metric = name
        objective.check_metric(cfg)
    cfg.optimize.metric = "task/needle@0.25/trained/local/gemma3-270m/accuracy"  # it writes its own length
    with pytest.raises(CompressError, match="no metric"):
        objective.check_metric(cfg)
    cfg.optimize.metric = "trained/equivalence_mn"
    with pytest.raises(CompressError, match=r"did you mean trained/equivalence_min.*trained/token_reduction"):
        objective.check_metric(cfg)
    cfg.optimize.metric = ["trained/token_reduction", "trained/equivalence_min"]
    with pytest.raises(CompressError, match=r"one direction .* per metric"):
        objective.check_metric(cfg)
    # after the stage: a name it did not record is an error listing what it did record
    rec = StageRecord(
        stage="validate", fingerprint="f", metrics={"pass_rate_all_gates": 0.5, "tokenizer": "x"}
    )
    cfg.optimize.metric = "validate/pass_rate_all_gatez"
    with pytest.raises(CompressError, match=r"not recorded .*did you mean pass_rate_all_gates"):
        objective.objective(cfg, {"validate": rec})
    cfg.optimize.metric = "validate/pass_rate_all_gates"
    assert objective.objective(cfg, {"validate": rec}) == 0.5

    # a sweep with a misspelt metric stops with status 2 before any job starts
    out = tmp_path / "outputs"
    proc = run_cli(
        [
            "-m",
            "+experiment=smoke",
            f"paths.outputs={out}",
            "optimize.metric=trained/equivalence_mn",
            "seed=1,2",
        ],
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "did you mean trained/equivalence_min" in proc.stderr and not _sweep_dirs(out)


# -- concurrency: the stage store's lock and the answer cache -------------------------------------
def test_two_jobs_needing_the_same_stage_compute_it_once(tmp_path: Path) -> None:
    """The store's per-fingerprint lock: one job computes, the other waits and reuses (unit test with a
    stand-in generate stage; the slow joblib test shows it with the real pipeline)."""
    out = tmp_path / "outputs"
    marker = tmp_path / "ran.txt"
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    procs = []
    for job in range(2):
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                config_name="config",
                overrides=[
                    "+experiment=smoke",
                    "stages=[generate]",
                    "logger=none",
                    f"paths.root={tmp_path}",
                    f"paths.outputs={out}",
                    f"paths.run_dir={out}/multiruns/s/{job}",
                    f"paths.cache={CACHE}",
                ],
            )
        procs.append(
            ctx.Process(target=sweep_workers.locked_job, args=(OmegaConf.to_yaml(cfg), str(marker), results))
        )
    for p in procs:
        p.start()
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    got = sorted(results.get(timeout=5) for _ in procs)
    assert [o for o, _ in got] == ["ran", "reused"] and got[0][1] == got[1][1]
    assert len(marker.read_text().split()) == 1  # computed once
    for job in range(2):
        assert read_record(out / "multiruns" / "s" / str(job) / "generate").fingerprint == got[0][1]  # type: ignore[union-attr]


def test_answer_cache_takes_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "llm_cache" / "calls.sqlite"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=sweep_workers.cache_writer, args=(str(path), w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    cache = CallCache(path)
    assert len(cache) == 150 + 4 * 150 and cache.journal_mode == "WAL"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# -- sweeps on the bundled model --------------------------------------------------------------------
def _study(out: Path) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name="smoke4", storage=f"sqlite:///{out}/optuna/smoke4.db")


def _completed_jobs(sweep_dir: Path) -> int:
    return sum(
        1 for d in jobs.job_dirs(sweep_dir) if (s := jobs.read_job_status(d)) and s["status"] == "completed"
    )


@pytest.fixture
def search_out(shared: Path, tmp_path: Path) -> Iterator[Path]:
    """An outputs dir with the shared store and cache linked in (a fresh study, the same answers)."""
    out = tmp_path / "outputs"
    out.mkdir()
    for name in ("store", "llm_cache"):
        (out / name).symlink_to(shared / name)
    yield out


@pytest.mark.slow  # over a minute on 2 cores (measured on a clean clone); run with -m slow
def test_optuna_search_finishes_and_resumes_without_redoing_trials(search_out: Path, tmp_path: Path) -> None:
    """A 4-trial search, interrupted after 2 trials; the same command again runs only what is missing."""
    out = search_out
    args = [
        "-m",
        *OPTUNA,
        f"hydra.sweeper.storage=sqlite:///{out}/optuna/smoke4.db",
        *CHEAP,
        f"paths.outputs={out}",
        PASS_RATE,
        "validation.threshold=interval(0.3, 0.9)",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "compress.run", *args],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            dirs = _sweep_dirs(out)
            if dirs and _completed_jobs(dirs[0]) >= 2:
                break
            time.sleep(0.5)
        assert proc.poll() is None, "the search ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    (first,) = _sweep_dirs(out)
    before = {t.number: t for t in _study(out).trials}
    finished_jobs = _completed_jobs(first)
    assert 2 <= finished_jobs < 4

    again = run_cli(args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    study = _study(out)
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE"] * 4  # exactly n_trials, all finished
    (second,) = set(_sweep_dirs(out)) - {first}
    # the trials whose jobs had finished kept their values and were not run again
    assert len(jobs.job_dirs(second)) == 4 - finished_jobs
    first_values = {
        json.dumps(s["overrides"][0]): s["metric"]
        for d in jobs.job_dirs(first)
        if (s := jobs.read_job_status(d)) and s["status"] == "completed"
    }
    for d in jobs.job_dirs(second):
        assert json.dumps(jobs.read_job_status(d)["overrides"][0]) not in first_values  # type: ignore[index]
    for n, t in before.items():
        if t.state.name == "COMPLETE":
            assert trials[n].value == t.value and trials[n].params == t.params
    results = OmegaConf.load(second / "optimization_results.yaml")
    assert results.best_value == study.best_value and results.trials.complete == 4
    assert "recorded, not rerun" in again.stdout + again.stderr or finished_jobs == sum(
        1 for t in before.values() if t.state.name == "COMPLETE"
    )
    summary = _summary(second)
    assert summary["counts"]["completed"] == 4 - finished_jobs
    assert summary["savings"]["stages"]["per_stage"]["generate"]["reused"] == 4 - finished_jobs
    assert summary["savings"]["llm_cache"]["calls"] == 0  # every validator answer came from the cache


@pytest.mark.slow  # two whole smoke pipelines, one failing on purpose (about 1 minute): pytest -m slow
def test_a_failing_job_is_recorded_and_the_sweep_goes_on(search_out: Path, tmp_path: Path) -> None:
    """One job with a bad hyperparameter fails; the others finish; the summary and W&B show all of them."""
    out = search_out
    args = ["-m", *CHEAP, f"paths.outputs={out}", PASS_RATE, "logger=wandb_offline"]
    proc = run_cli([*args, "validation.threshold=0.5,oops,0.7"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (sweep_dir,) = _sweep_dirs(out)
    summary = _summary(sweep_dir)
    by_job = {j["job"]: j for j in summary["jobs"]}
    assert [by_job[n]["status"] for n in ("0", "1", "2")] == ["completed", "failed", "completed"]
    assert summary["counts"] == {"jobs": 3, "completed": 2, "failed": 1, "unknown": 0}
    failed = by_job["1"]
    assert failed["error_type"] == "ValueError" and "oops" in failed["error"]
    assert "validation.threshold=oops" in failed["overrides"] and failed["dir"].endswith("/1")
    assert "Traceback" in json.loads((sweep_dir / "1" / jobs.STATUS_FILE).read_text())["traceback"]
    for n in ("0", "2"):
        assert isinstance(by_job[n]["metric"]["validate/pass_rate_all_gates"], float)
    assert "1 job(s) did not finish" in proc.stderr and "ValueError" in proc.stderr
    # W&B: every stage run of every job is in the sweep's group, and the sweep's own run beside them
    group = f"multiruns/{sweep_dir.name}"
    runs = sorted(sweep_dir.glob("*/wandb/offline-run-*"))
    assert len(runs) >= 4  # 2 stages x 2 finished jobs (+ the failed job's generate)
    for run in runs:
        assert _wandb_group(run) == group, run
    (sweep_run,) = sorted((sweep_dir / "wandb").glob("offline-run-*"))
    assert _wandb_group(sweep_run) == group


def _wandb_group(offline_run: Path) -> str | None:
    """The group recorded in an offline W&B run's log (`run-*.wandb`: a W&B header, then protobuf
    records in LevelDB log framing: 32 KiB blocks, each record chunk behind crc32, length and type)."""
    from wandb.proto import wandb_internal_pb2

    (log,) = offline_run.glob("run-*.wandb")
    data, pos, block, parts = log.read_bytes(), 7, 32768, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        parts = chunk if kind in (1, 2) else parts + chunk
        if kind in (1, 4):  # a full record, or the last chunk of one
            rec = wandb_internal_pb2.Record()  # type: ignore[attr-defined]
            rec.ParseFromString(parts)
            if rec.WhichOneof("record_type") == "run":
                return str(rec.run.run_group)
    return None


LAUNCHERS = {
    "joblib": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=20"],
    "ray": ["hydra/launcher=ray"],
}


@pytest.mark.parametrize(
    "launcher",
    [
        # each a whole sweep of smoke pipelines (joblib about 75 s): the default suite keeps to 10 minutes
        pytest.param("joblib", marks=pytest.mark.slow),
        pytest.param("submitit_local", marks=pytest.mark.slow),
        pytest.param("ray", marks=pytest.mark.slow),
    ],
)
def test_the_same_sweep_runs_under_each_launcher(launcher: str, search_out: Path, tmp_path: Path) -> None:
    out = search_out
    args = [
        "-m",
        *LAUNCHERS[launcher],
        *CHEAP,
        f"paths.outputs={out}",
        PASS_RATE,
        "validation.threshold=0.5,0.7",
    ]
    proc = run_cli(args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (sweep_dir,) = _sweep_dirs(out)
    summary = _summary(sweep_dir)
    assert [j["job"] for j in summary["jobs"]] == ["0", "1"]
    assert [j["status"] for j in summary["jobs"]] == ["completed", "completed"]
    gen = {read_record(sweep_dir / j / "generate").fingerprint for j in ("0", "1")}  # type: ignore[union-attr]
    val = {read_record(sweep_dir / j / "validate").fingerprint for j in ("0", "1")}  # type: ignore[union-attr]
    assert len(gen) == 1 and len(val) == 2  # one dataset shared, each job its own validation
    generate = summary["savings"]["stages"]["per_stage"]["generate"]
    assert generate["ran"] == 0 and generate["reused"] == 2 and generate["seconds_saved"] > 0
    if launcher == "ray":
        assert "Ray: starting a local instance" in proc.stderr + proc.stdout


# -- whole pipelines (slow) -------------------------------------------------------------------------
# 8 samples leave 3 held-out texts: too few for the needle task (5 a question), so the cloze only
FULL = [
    "+experiment=smoke",
    "data.n_samples=8",
    "evaluate.max_samples=1",
    "evaluate.tasks=[cloze]",
    "train.steps=2",
    "logger=none",
]


@pytest.mark.slow
def test_parallel_jobs_share_one_dataset_and_the_report_lists_the_failed_job(tmp_path: Path) -> None:
    """On a fresh outputs dir, 2 joblib workers: the dataset is generated and validated once, a LoRA
    rank of 0 fails its job, the other job trains and evaluates, and the report lists the failure."""
    out = tmp_path / "outputs"
    proc = run_cli(
        [
            "-m",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *FULL,
            f"paths.outputs={out}",
            "train.lora.rank=2,0",
        ],
        cwd=tmp_path,
        timeout=2400,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (sweep_dir,) = _sweep_dirs(out)
    summary = _summary(sweep_dir)
    assert [j["status"] for j in summary["jobs"]] == ["completed", "failed"]
    per_stage = summary["savings"]["stages"]["per_stage"]
    assert per_stage["generate"]["ran"] == 1 and per_stage["generate"]["reused"] == 1
    assert per_stage["validate"]["ran"] == 1 and per_stage["validate"]["reused"] == 1
    assert len(list((out / "store" / "generate").iterdir())) == 1
    report = (sweep_dir / "report" / "report.md").read_text()
    assert "## Failed jobs" in report and "train.lora.rank=0" in report


@pytest.mark.slow
def test_lora_optuna_preset_runs_4_trials_of_the_whole_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    proc = run_cli(
        [
            "-m",
            "hparams_search=lora_optuna",
            "hydra.sweeper.n_trials=4",
            "hydra.sweeper.n_jobs=2",
            "hydra/launcher=joblib",
            "hydra.launcher.n_jobs=2",
            *FULL,
            f"paths.outputs={out}",
        ],
        cwd=tmp_path,
        timeout=3600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (sweep_dir,) = _sweep_dirs(out)
    import optuna

    study = optuna.load_study(study_name="lora_smoke", storage=f"sqlite:///{out}/optuna/lora_smoke.db")
    assert len(study.trials) == 4 and all(t.state.name in ("COMPLETE", "FAIL") for t in study.trials)
    summary = _summary(sweep_dir)
    assert summary["counts"]["jobs"] == 4 and summary["best"] is not None
    assert (sweep_dir / "report" / "report.md").is_file()
