"""notebooks/analysis.ipynb: kept clean and parameterisable (tests/e2e/test_pipeline.py executes it on
the sweep it has just run, with tests/support/notebook.py)."""

from __future__ import annotations

from typing import Any

import nbformat

from tests.support.notebook import NOTEBOOK, inject_parameters


def test_notebook_is_valid_and_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # outputs depend on the machine's runs: the file keeps none, so diffs show only code changes
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    text = "\n".join(c.source for c in code)
    for api in ("report_runs.load_runs", "report_runs.newest_runs_dir", "tables.report_tables", "plots.plot"):
        assert api in text, api


def test_injected_parameters_follow_the_parameters_cell() -> None:
    nb = inject_parameters(nbformat.read(NOTEBOOK, as_version=4), {"RUNS": ["/x/y"], "OUTPUTS": "o"})
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert tags[at + 1] == ["injected-parameters"]
    scope: dict[str, Any] = {}
    exec(nb.cells[at].source + "\n" + nb.cells[at + 1].source, scope)
    assert scope["RUNS"] == ["/x/y"] and scope["OUTPUTS"] == "o"
    nbformat.validate(nb)
