"""The tables a run prints when it ends: its stages, and the evaluation's compressors."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from compress.console import console
from compress.schemas import StageRecord
from compress.stages.context import read_summary


def print_run(records: dict[str, StageRecord], run_dir: Path) -> None:
    """Each stage's time and fingerprint; then, when the evaluate stage finished, every compressor's figures."""
    table = Table(title=f"run {run_dir}")
    for col in ("stage", "seconds", "fingerprint"):
        table.add_column(col)
    for name, rec in records.items():
        table.add_row(name, f"{rec.seconds:.1f}", rec.fingerprint)
    console.print(table)
    if not (run_dir / "evaluate" / "summary.json").is_file():
        return
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
