"""The whole pipeline on the bundled model, as a user runs it: smoke run, rerun, sweep, resume.

One test on purpose: each step builds on the previous one's outputs, and the model runs for real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_from_disk

from compress.infra.schemas import StageRecord
from compress.pipeline.store import read_record
from compress.stages import ORDER
from tests.conftest import run_cli
from tests.support.browser import assert_clean, load_in_chromium
from tests.support.notebook import execute_notebook, outputs_of

EXPECTED_DATASETS = {
    "generate": (
        "pairs",
        {"original", "compressed", "teacher", "original_tokens", "compressed_tokens", "split"},
    ),
    "validate": (
        "validated",
        {"model_scores", "min_score", "passed", "answers_original", "answers_compressed"},
    ),
    "train": ("train_log", {"step", "loss", "tokens", "seconds"}),
    "evaluate": ("eval", {"method", "compressed_tokens", "reduction", "min_score", "latency_s"}),
}


def _wandb_runs(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "wandb").glob("offline-run-*"))


def _record(stage_dir: Path) -> StageRecord:
    """The record of a stage that finished."""
    rec = read_record(stage_dir)
    assert rec is not None, stage_dir
    return rec


def _run_id(offline_dir: Path) -> str:
    return offline_dir.name.rsplit("-", 1)[-1]


SECRET = "sk-test-SECRET-never-logged-0123456789"


# about 3 minutes on 2 cores: the default suite measured 11:26 with it on a clean clone (limit 10)
@pytest.mark.slow
def test_smoke_pipeline_rerun_sweep_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "outputs"
    common = ["+experiment=smoke", f"paths.outputs={out}"]
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)

    # 1. the whole pipeline
    first = run_cli(common, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-4000:]
    (run_dir,) = sorted((out / "runs").iterdir())
    for stage in ORDER:
        rec = read_record(run_dir / stage)
        assert rec is not None and rec.stage == stage, stage
        name, columns = EXPECTED_DATASETS[stage]
        ds = load_from_disk(str(run_dir / stage / name))
        assert len(ds) > 0 and columns <= set(ds.column_names), stage
    assert (run_dir / "train" / "adapter" / "adapter_model.safetensors").is_file()
    # validate: per-model and per-gate pass rates, the judge's calibration, the LLM ledger
    vm = _record(run_dir / "validate").metrics
    validated = load_from_disk(str(run_dir / "validate" / "validated"))
    for gate in ("equivalence", "facts", "judge"):
        # each gate's pass rate is the share of pairs that gate let through (one validator: all = it)
        let_through = sum(gate not in failed for failed in validated["gates_failed"]) / len(validated)
        assert vm[f"gate_pass_rate/{gate}/all"] == pytest.approx(let_through), gate
        assert vm[f"gate_pass_rate/{gate}/local/gemma3-270m"] == vm[f"gate_pass_rate/{gate}/all"]
    assert vm["pass_rate_all_gates"] == pytest.approx(sum(validated["passed"]) / len(validated))
    assert vm["pass_rate_all_gates"] <= min(
        vm[f"gate_pass_rate/{g}/all"] for g in ("equivalence", "facts", "judge")
    )
    assert json.loads((run_dir / "validate" / "calibration.json").read_text())["n"] == vm["pairs"]
    assert vm["llm/calls"] > 0 and vm["llm/cost_usd"] == 0.0
    assert (run_dir / "llm_ledger.jsonl").is_file()
    assert (run_dir / "train" / "adapter" / "compressor.json").is_file()
    summary = json.loads((run_dir / "evaluate" / "summary.json").read_text())
    assert [m["method"] for m in summary["methods"]] == [
        "trained",
        "teacher",
        "identity",
        "truncate",
        "selfinfo",
        "tail",
        "random",
    ]
    # cloze facts graded for every method, and the trained compressor compared with every baseline
    assert all(m["cloze_n"] > 0 and m["cloze_accuracy"] is not None for m in summary["methods"])
    trained_vs = {(h["baseline"], h["metric"]) for h in summary["headline"] if h["method"] == "trained"}
    assert {
        (b, m)
        for b in ("identity", "truncate", "selfinfo", "tail", "random")
        for m in ("cloze", "equivalence")
    } <= trained_vs
    assert [b["model"] for b in summary["judge_bias"]] == ["local/gemma3-270m"]
    assert "own tokenizer" in summary["tokenizer"]
    by = {m["method"]: m for m in summary["methods"]}
    assert by["identity"]["token_reduction"] == 0.0
    # truncation and the extractive baseline are held to the trained compressor's budget
    for name in ("truncate", "tail", "random"):
        assert abs(by[name]["achieved_rate"] - by["trained"]["achieved_rate"]) < 0.05, name
    assert by["selfinfo"]["achieved_rate"] <= by["trained"]["achieved_rate"] + 0.1
    assert by["identity"]["fact_recall"] == 1.0 and by["identity"]["code_parses"] is None
    loss = load_from_disk(str(run_dir / "train" / "train_log"))["loss"]
    assert all(x == x and x > 0 for x in loss)
    runs = _wandb_runs(run_dir)
    assert len(runs) == 4 and len({_run_id(r) for r in runs}) == 4
    # the evaluate run keeps the summary, for `compress.report wandb:...` once synced
    (kept,) = [r / "files" / "evaluate" / "summary.json" for r in runs if (r / "files" / "evaluate").is_dir()]
    assert json.loads(kept.read_text()) == summary
    # the key in the environment reached no file: datasets, W&B runs, hydra's config copies, logs
    leaked = [p for p in run_dir.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert not leaked

    # 2. the same command again: every stage is found finished and skipped
    again = run_cli(common, cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-4000:]
    assert again.stderr.count("skipped") == 4, again.stderr[-3000:]
    assert not (sorted((out / "runs").iterdir())[1] / "llm_ledger.jsonl").exists()  # no call at all
    (_, second_dir) = sorted((out / "runs").iterdir())
    for stage in ORDER:
        assert _record(second_dir / stage).fingerprint == _record(run_dir / stage).fingerprint

    # 3. a 2-job sweep: one pipeline per job, two distinct W&B runs per stage
    sweep = run_cli(["-m", *common, "train.lora.rank=2,4"], cwd=tmp_path)
    assert sweep.returncode == 0, sweep.stderr[-4000:]
    (sweep_dir,) = sorted((out / "multiruns").iterdir())
    jobs = sorted(p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit())
    assert [j.name for j in jobs] == ["0", "1"]
    ids = [_run_id(r) for j in jobs for r in _wandb_runs(j)]
    assert len(ids) == 8 and len(set(ids)) == 8
    train_fps = {_record(j / "train").fingerprint for j in jobs}
    assert len(train_fps) == 2
    # generate and validate were shared with the earlier run, not recomputed
    assert {_record(j / "generate").fingerprint for j in jobs} == {_record(run_dir / "generate").fingerprint}
    assert sweep.stderr.count("skipped") >= 4
    # the Hydra callback compared the sweep's jobs: the report holds both, with the summaries' figures
    report = (sweep_dir / "report" / "report.md").read_text()
    for job in jobs:
        trained = next(
            m
            for m in json.loads((job / "evaluate" / "summary.json").read_text())["methods"]
            if m["method"] == "trained"
        )
        assert f"train.lora.rank={'2' if job.name == '0' else '4'}" in report
        assert f"| trained | {trained['n']} | {trained['token_reduction']:.3f} |" in report
    for png in ("ci", "pareto", "models", "latency"):
        assert (sweep_dir / "report" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in (sweep_dir / "report" / "report.html").read_text()
    # ... report.html opens in headless chromium with no JS error or failed load, tables and images intact
    page = load_in_chromium(sweep_dir / "report" / "report.html")
    assert_clean(page)
    # the headline comes first: its table, then its plot (the paired differences with their CIs)
    assert page.dom["headings"][1].startswith("Headline") and page.dom["headings"][2] == "ci"
    headline = next(t for t in page.dom["tables"] if t["heading"].startswith("Headline"))
    assert headline["rows"] > 0 and "trained" in headline["text"]
    pngs = list((sweep_dir / "report").glob("*.png"))
    assert len(page.dom["images"]) == len(pngs)
    compressors = next(t for t in page.dom["tables"] if t["heading"].startswith("Compressors"))
    n_methods = sum(len(json.loads((j / "evaluate" / "summary.json").read_text())["methods"]) for j in jobs)
    assert compressors["rows"] == n_methods and "train.lora.rank=4" in compressors["text"]
    # ... and the analysis notebook runs on the sweep, showing the same tables and plots
    nb, _ = execute_notebook([sweep_dir])
    assert len(outputs_of(nb, "image/png")) == len(pngs)
    assert any("train.lora.rank=4" in h for h in outputs_of(nb, "text/html"))

    # 4. rerun one stage on an earlier run's outputs
    resume = run_cli(
        [*common, "stages=[evaluate]", f"resume_from={run_dir}", "evaluate.max_samples=1"], cwd=tmp_path
    )
    assert resume.returncode == 0, resume.stderr[-4000:]
    (third_dir,) = sorted(set((out / "runs").iterdir()) - {run_dir, second_dir})
    assert [p.name for p in sorted(third_dir.iterdir()) if p.name in ORDER] == ["evaluate"]
    rec = read_record(third_dir / "evaluate")
    assert rec is not None and rec.inputs["train"] == _record(run_dir / "train").fingerprint
    assert json.loads((third_dir / "evaluate" / "summary.json").read_text())["methods"][0]["n"] == 1
