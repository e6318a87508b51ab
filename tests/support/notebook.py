"""Executing notebooks/analysis.ipynb on real runs, with parameters injected papermill-style (a cell
tagged `injected-parameters` right after the one tagged `parameters`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from tests.conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "analysis.ipynb"


def inject_parameters(nb: Any, params: dict[str, Any]) -> Any:
    """A copy of `nb` with `NAME = repr(value)` assignments in a cell after its `parameters` cell."""
    nb = nbformat.from_dict(nb)
    (at,) = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    source = "# Injected parameters\n" + "".join(f"{k} = {v!r}\n" for k, v in params.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell["id"] = "injected-parameters"
    nb.cells.insert(at + 1, cell)
    return nb


def execute_notebook(runs: list[Path], timeout: float = 120) -> tuple[Any, float]:
    """Execute the notebook on `runs` (run or sweep dirs) in a fresh kernel; returns it and the seconds."""
    nb = inject_parameters(nbformat.read(NOTEBOOK, as_version=4), {"RUNS": [str(p) for p in runs]})
    t0 = time.perf_counter()
    # cwd = notebooks/, as in Jupyter; a cell that raises fails the call (CellExecutionError)
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    return nb, time.perf_counter() - t0


def outputs_of(nb: Any, mime: str) -> list[str]:
    """Every output of type `mime` (e.g. image/png, text/html) the executed notebook displayed."""
    return [
        o["data"][mime]
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if mime in o.get("data", {})
    ]
