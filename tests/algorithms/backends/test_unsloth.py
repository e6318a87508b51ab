"""backend=unsloth without a CUDA GPU: refused before anything is imported or spent."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir

from compress.algorithms.backends import get_backend
from compress.infra.errors import MissingRequirement
from tests.conftest import CACHE, ROOT, run_cli

ROWS = [
    {"original": "The quick brown fox jumps over the lazy dog.", "compressed": "fox jumps dog", "weight": 1.0}
]


def _compose(overrides: list[str]) -> Any:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_unsloth_refuses_without_cuda(tmp_path: Path) -> None:
    cfg = _compose(["backend=unsloth"])
    with pytest.raises(MissingRequirement, match="needs a CUDA GPU"):
        get_backend("unsloth").train(cfg, ROWS, tmp_path, CACHE, print)
    assert "unsloth" not in sys.modules  # refused before importing (and patching) anything


def test_cli_unsloth_refused_cleanly(tmp_path: Path) -> None:
    args = ["compressor=generative", "backend=unsloth", f"paths.outputs={tmp_path}/out"]
    proc = run_cli(args, cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "backend=unsloth needs a CUDA GPU" in proc.stderr and "nothing was spent" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
