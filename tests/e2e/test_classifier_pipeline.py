"""`+experiment=smoke compressor=classifier`: all four stages with the token classifier, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import load_from_disk

from compress.algorithms.text.words import split_words
from compress.pipeline.store import read_record
from compress.stages import ORDER
from tests.conftest import CACHE, run_cli


@pytest.mark.slow  # over a minute on 2 cores (measured on a clean clone); run with -m slow
def test_smoke_pipeline_with_the_classifier(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    env = {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "COMPRESS_CACHE": str(CACHE)}
    proc = run_cli(
        ["+experiment=smoke", "compressor=classifier", f"paths.outputs={out}", "logger=none"],
        tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (run_dir,) = sorted((out / "runs").iterdir())
    for stage in ORDER:
        assert read_record(run_dir / stage) is not None, stage
    # generate's pairs carry the teacher's exact word-level keep mask (selfinfo knows what it kept)
    pairs = load_from_disk(str(run_dir / "generate" / "pairs"))
    for r in pairs:
        words = split_words(r["original"])
        assert len(r["keep"]) == len(words) and r["align_found"] == 1.0 and r["align_invented"] == 0
        kept = " ".join(words.word(i) for i, k in enumerate(r["keep"]) if k)
        assert kept.split() == r["compressed"].split()
    meta = json.loads((run_dir / "train" / "adapter" / "compressor.json").read_text())
    assert meta["kind"] == "classifier"
    train = read_record(run_dir / "train")
    assert train is not None and train.metrics["steps"] >= 1
    summary = json.loads((run_dir / "evaluate" / "summary.json").read_text())
    assert summary["methods"][0]["method"] == "trained"
    # rate-controlled: the classifier has a point at every swept rate, beside truncate and selfinfo
    at = {(c["method"], c["rate"]) for c in summary["curves"]}
    assert {("trained", 0.5), ("truncate", 0.5), ("selfinfo", 0.5)} <= at
    trained_curve = next(c for c in summary["curves"] if c["method"] == "trained" and c["rate"] == 0.5)
    assert 0.3 <= trained_curve["achieved_rate"] <= 0.7
    assert any(h["method"] == "trained" and h["rate"] == 0.5 for h in summary["headline"])
