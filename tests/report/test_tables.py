"""The report's gold-task tables: the rate column, accuracy by needle position, and the trained
compressor's task comparisons in a table of their own (out of the held-out headline)."""

from __future__ import annotations

from pathlib import Path

from compress.infra.schemas import Comparison, EvalSummary, TaskResult
from compress.report.runs import RunInfo
from compress.report.tables import (
    headline_rows,
    markdown_table,
    report_tables,
    task_comparison_rows,
    task_rows,
)
from tests.conftest import method_summary


def _task(task: str, method: str, rate: float | None, by_position: list[float | None]) -> TaskResult:
    return TaskResult(
        task=task, method=method, model="m", n=10, accuracy=0.5, ci_low=0.2, ci_high=0.8, delta=-0.1,
        rate=rate, by_position=by_position,
    )  # fmt: skip


def _cmp(baseline: str, metric: str, rate: float | None) -> Comparison:
    return Comparison(
        method="trained", baseline=baseline, rate=rate, metric=metric, model="m", n=40,
        method_mean=0.6, baseline_mean=0.48, diff=0.12, ci_low=0.01, ci_high=0.23, mde=0.1,
    )  # fmt: skip


RUN = RunInfo(
    Path("run"),
    "run",
    EvalSummary(
        tokenizer="t",
        tokenizer_secondary="c",
        validator_models=["m"],
        threshold=0.5,
        methods=[method_summary("trained", 0.5, "m")],
        tasks=[_task("qa", "trained", None, []), _task("needle", "bm25", 0.25, [1.0, None, 0.5])],
        headline=[_cmp("truncate", "cloze", None), _cmp("bm25", "task:needle", 0.25)],
    ),
)


def test_task_rows_have_the_rate_and_one_column_per_needle_position() -> None:
    qa, nd = task_rows([RUN])
    assert list(qa)[:5] == ["run", "task", "rate", "method", "model"]
    assert (qa["rate"], nd["rate"]) == ("matched", 0.25)
    # every row has the same columns: the qa row's positions are empty
    assert list(qa) == list(nd)
    assert [nd[f"pos {i}"] for i in (1, 2, 3)] == [1.0, None, 0.5]
    assert [qa[f"pos {i}"] for i in (1, 2, 3)] == [None, None, None]
    assert "| needle | 0.250 | bm25 | m | 10 | 0.500 |" in markdown_table([qa, nd])


def test_task_comparisons_have_a_table_of_their_own() -> None:
    (row,) = task_comparison_rows([RUN])
    assert row["task"] == "needle"
    assert row["comparison"] == "trained - bm25 at 0.25: +0.120 [+0.010, +0.230]"
    assert row["verdict"] == "better"
    assert [r["metric"] for r in headline_rows([RUN])] == ["cloze"]
    titles = list(report_tables([RUN]))
    assert any(t.startswith("Gold-answer tasks (95% CIs") for t in titles)
    assert any(t.startswith("Gold-answer tasks: trained against each baseline") for t in titles)
