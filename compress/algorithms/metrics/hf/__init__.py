"""The equivalence metrics as local Hugging Face `evaluate` modules, loadable offline by path.

import evaluate
from compress.algorithms.metrics.hf import module_path
metric = evaluate.load(module_path("equivalence"))
metric.compute(predictions=[...], references=[...], domain="nl")
"""

from __future__ import annotations

from pathlib import Path

MODULES = ("equivalence", "fact_recall")


def module_path(name: str) -> str:
    """The directory of a bundled `evaluate` module, for `evaluate.load(path)`."""
    if name not in MODULES:
        raise ValueError(f"unknown metric module {name!r}; bundled: {MODULES}")
    return str(Path(__file__).parent / name)
