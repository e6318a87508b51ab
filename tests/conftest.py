"""Shared test setup: every test writes under a tmp dir; W&B stays offline and local."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compress.infra.schemas import MethodSummary
from compress.pipeline.config_store import register_configs
from tests.support.openai_server import OpenAIServer, ServerState

ROOT = Path(__file__).resolve().parents[1]
# the conf/ YAMLs name their schemas in their defaults lists: every test that composes needs them stored
register_configs()
# Converted models are expensive to rebuild: share them across tests (and with the main job).
CACHE = Path(os.environ.get("COMPRESS_CACHE", Path.home() / ".cache" / "compress"))


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "wandb-cache"))
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    monkeypatch.setenv("COMPRESS_CACHE", str(CACHE))
    for var in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GEMINI_API_KEY",
        "GOOGLE_API_KEY",
        "TINKER_API_KEY",
        "WANDB_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)


def run_cli(
    args: list[str], cwd: Path, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m compress.run ARGS` as a user would, from `cwd`, capturing output (`env`: extra variables)."""
    env = dict(os.environ) | (env or {})
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "compress.run", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained smoke run (the whole pipeline on the bundled model, W&B off), shared by the tests
    that load a trained compressor: library, packages, CLI, engines."""
    tmp = tmp_path_factory.mktemp("smoke")
    env = {"HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "COMPRESS_CACHE": str(CACHE)}
    proc = run_cli(["+experiment=smoke", f"paths.outputs={tmp / 'outputs'}", "logger=none"], tmp, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (run_dir,) = sorted((tmp / "outputs" / "runs").iterdir())
    return run_dir


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> object:
    """A loopback OpenAI-compatible server that `openai/...` models reach (with a dummy key)."""
    state = ServerState()
    with OpenAIServer(state) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback-0000")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_BASE", srv.base_url)
        yield srv


def method_summary(name: str, reduction: float, worst_model: str, **figures: float) -> MethodSummary:
    """An evaluate summary row for report tests: `reduction` sets the token figures, `figures` override the rest."""
    row: dict[str, object] = {
        "method": name,
        "n": 4,
        "token_reduction": reduction,
        "token_reduction_cl100k": reduction,
        "achieved_rate": 1 - reduction,
        "equivalence_min": 0.8,
        "equivalence_mean": 0.85,
        "pass_rate": 0.75,
        "latency_p50_s": 0.1,
        "latency_p95_s": 0.2,
        "worst_model": worst_model,
    }
    return MethodSummary.model_validate(row | figures)
