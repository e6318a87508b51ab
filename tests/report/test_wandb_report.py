"""The W&B Report of compared runs: built from real wandb_workspaces objects, never saved (no network).

What only the server can check (the project lookup, the saved view, how W&B renders the panels) is
out of reach here; `test_the_saved_spec_names_the_runs_and_metrics` goes as far as the exact JSON
spec `Report.save()` would upload, with the one GraphQL lookup it needs answered locally.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
import wandb_workspaces.reports.v2 as wr
import wandb_workspaces.reports.v2.interface as wr_interface
from wandb_workspaces import expr

from compress.infra.schemas import EvalSummary, MethodSummary
from compress.report import wandb_report
from compress.report.__main__ import main
from compress.report.runs import RunInfo
from tests.conftest import method_summary

MODELS = ["local/gemma3-270m", "openai/gpt-4o-mini"]
SWEEP = "multiruns/2026-01-01_00-00-00_smoke"
# two jobs of one sweep, as the pipeline logs them: the sweep dir as group, job dirs in the run names
TARGETS = [wandb_report.WandbTarget("wandb", "online", "team", "proj", SWEEP, f"{SWEEP}/{j}") for j in "01"]


def _method(name: str, reduction: float) -> MethodSummary:
    return method_summary(name, reduction, MODELS[0])


def _run(path: Path) -> RunInfo:
    summary = EvalSummary(
        tokenizer="gemma3-270m (the model's own tokenizer)",
        tokenizer_secondary="cl100k_base",
        validator_models=MODELS,
        threshold=0.6,
        methods=[_method("trained", 0.4), _method("truncate", 0.4)],
    )
    stages = {"validate": {f"score_mean/{m}": 0.7 for m in MODELS}, "train": {"tokens_per_s": 100.0}}
    return RunInfo(path, path.name, summary, stages)


def _write_run_dir(run: Path, mode: str, outputs: str = "${paths.root}/outputs", sweep: bool = False) -> None:
    """A run dir as the pipeline leaves it, as far as the report reads it."""
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text(
        f"logger:\n  kind: wandb\n  mode: {mode}\n  project: proj\n  entity: team\n"
        f"paths:\n  root: ${{hydra:runtime.cwd}}\n  outputs: {outputs}\n"
    )
    (run / ".hydra" / "hydra.yaml").write_text(f"hydra:\n  mode: {'MULTIRUN' if sweep else 'RUN'}\n")
    (run / ".hydra" / "overrides.yaml").write_text("[]\n")
    (run / "evaluate").mkdir()
    (run / "evaluate" / "summary.json").write_text(_run(run).summary.model_dump_json())


def _v2(runset: wr.Runset) -> list[dict[str, Any]]:
    # a Runset's validator turns filter expressions (lists, And, Or) into their string form
    return expr.filters_tree_to_v2(expr.expr_to_filters(cast(str, runset.filters)))["filters"]


def test_target_reads_mode_project_and_the_pipelines_group_and_names(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    job = out / SWEEP / "0"
    _write_run_dir(job, "online", outputs=str(out), sweep=True)  # paths.outputs given literally
    run = out / "runs" / "2026-01-01_00-00-00_default"
    _write_run_dir(run, "offline")  # the default: paths.outputs needs Hydra to resolve
    assert wandb_report.target(job) == TARGETS[0]
    single = wandb_report.target(run)
    assert single.group == single.run_name == "runs/2026-01-01_00-00-00_default"
    assert single.mode == "offline"
    assert single.names(["train"]) == ["runs/2026-01-01_00-00-00_default/train"]


def test_report_blocks_panels_and_runset_filters(tmp_path: Path) -> None:
    runs = [_run(tmp_path / "0"), _run(tmp_path / "1")]
    report = wandb_report.build_report(runs, "team", "proj", TARGETS)
    assert (report.entity, report.project) == ("team", "proj")
    kinds = [type(b).__name__ for b in report.blocks]
    assert kinds[:7] == ["P", "H2", "PanelGrid", "H2", "PanelGrid", "H2", "PanelGrid"]
    evaluate, validate, stages = (b for b in report.blocks if isinstance(b, wr.PanelGrid))

    # every grid shows exactly these runs: their group, their stage runs' names, the stage it plots
    for grid, job_type in ((evaluate, "evaluate"), (validate, "validate"), (stages, None)):
        (runset,) = grid.runsets
        assert (runset.entity, runset.project) == ("team", "proj")
        filters = {f["key"]["name"]: (f["op"], f["value"]) for f in _v2(runset)}
        assert filters["group"] == ("IN", [SWEEP])
        shown = wandb_report.STAGES if job_type is None else (job_type,)
        assert filters["displayName"] == ("IN", [f"{SWEEP}/{j}/{s}" for j in "01" for s in shown])
        assert filters.get("jobType") == (None if job_type is None else ("=", job_type))

    # reduction vs equivalence per compressor, and one bar chart per evaluate figure, all methods
    scatters = [p for p in evaluate.panels if isinstance(p, wr.ScatterPlot)]
    assert [(p.x, p.y) for p in scatters] == [
        (wr.SummaryMetric(f"evaluate/{m}/token_reduction"), wr.SummaryMetric(f"evaluate/{m}/equivalence_min"))
        for m in ("trained", "truncate")
    ]
    bars = {p.title: p.metrics for p in evaluate.panels if isinstance(p, wr.BarPlot)}
    assert set(wandb_report.eval_metrics()) >= {
        "token_reduction",
        "equivalence_min",
        "pass_rate",
        "latency_p95_s",
    }
    for metric in wandb_report.eval_metrics():
        assert bars[f"{metric} per compressor"] == [
            wr.SummaryMetric(f"evaluate/{m}/{metric}") for m in ("trained", "truncate")
        ]
    assert "summary:evaluate/trained/equivalence_min" in evaluate.runsets[0].visible_columns
    # the validator models' scores, training speed and stage times
    validate_bars = [cast(wr.BarPlot, p).metrics for p in validate.panels]
    assert [wr.SummaryMetric(f"validate/score_mean/{m}") for m in MODELS] in validate_bars
    stage_bars = [m for p in stages.panels for m in cast(wr.BarPlot, p).metrics]
    assert wr.SummaryMetric("train/tokens_per_s") in stage_bars
    assert wr.SummaryMetric("evaluate/seconds") in stage_bars
    # the local report's tables, as markdown
    tables = "\n".join(b.text for b in report.blocks if isinstance(b, wr.MarkdownBlock))
    assert "### Runs" in tables and "| trained |" in tables


def test_the_saved_spec_names_the_runs_and_metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Runset._to_model looks the project's internal id up on the server: answer it here; nothing else
    # in building the spec talks to the server
    calls: list[dict[str, Any]] = []

    def lookup(api: Any, query: Any, variables: dict[str, Any]) -> dict[str, Any]:
        calls.append(variables)
        return {"project": {"internalId": "UHJvamVjdDox"}}

    monkeypatch.setattr(wr_interface, "execute_graphql", lookup)
    monkeypatch.setattr(wr_interface, "_get_api", lambda: None)
    report = wandb_report.build_report([_run(tmp_path / "0")], "team", "proj", TARGETS[:1])
    spec = report._to_model().spec.model_dump_json(by_alias=True, exclude_none=True)
    assert calls and all(c == {"entityName": "team", "projectName": "proj"} for c in calls)
    assert f'"{SWEEP}/0/evaluate"' in spec and f"{SWEEP}/1" not in spec and '"jobType"' in spec
    assert "summary:evaluate/trained/token_reduction" in spec  # scatter axes
    assert "summary_metrics.evaluate/truncate/pass_rate" in spec  # bar metrics
    assert "summary_metrics.validate/score_mean/openai/gpt-4o-mini" in spec


def test_offline_runs_get_the_local_report_and_a_clear_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "outputs" / "runs" / "2026-01-01_00-00-00_default"
    _write_run_dir(run, "offline")
    main([str(run), "--out", str(tmp_path / "report")])
    out = capsys.readouterr().out
    assert (tmp_path / "report" / "report.html").is_file()
    assert "W&B Report: not built: the runs were logged with W&B mode offline, not online" in out
    assert "local report above is complete" in out


def test_online_runs_without_credentials_say_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))  # and conftest removed WANDB_API_KEY
    run = tmp_path / "outputs" / "runs" / "2026-01-01_00-00-00_default"
    _write_run_dir(run, "online")
    assert wandb_report.credentials_source() is None
    assert wandb_report.publish([_run(run)]) is None
    assert "logged online but no W&B credentials are here" in capsys.readouterr().out
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert wandb_report.credentials_source() == "WANDB_API_KEY"
