"""Every experiment preset composes on every machine, and fails early and clearly where it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from compress import preflight
from compress.errors import MissingRequirement
from tests.conftest import ROOT, run_cli

PRESETS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


def _compose(overrides: list[str]) -> object:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def test_required_presets_exist() -> None:
    assert {"smoke", "code_q8b", "nl_q4b_mlx", "memory_q8b_tinker"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes(preset: str) -> None:
    cfg = _compose([f"+experiment={preset}"])
    assert cfg.name == preset
    for group in (
        "model",
        "backend",
        "domain",
        "data",
        "teacher",
        "validation",
        "train",
        "evaluate",
        "logger",
        "paths",
    ):
        assert group in cfg, group
    assert list(cfg.stages) == ["generate", "validate", "train", "evaluate"]
    # everything but the hydra-runtime paths resolves without a running app
    OmegaConf.to_container(cfg.train, resolve=True)
    OmegaConf.to_container(cfg.data, resolve=True)


def test_default_is_the_embedded_setup() -> None:
    cfg = _compose([])
    assert cfg.model.name == "gemma3-270m" and cfg.backend.name == "torch"
    assert cfg.teacher.kind == "selfinfo"
    assert list(cfg.validation.models) == ["local/gemma3-270m"]
    assert cfg.logger.mode == "offline"


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        (
            "code_q8b",
            [
                "ANTHROPIC_API_KEY",
                "OPENAI_API_KEY",
                "GEMINI_API_KEY",
                "backend=unsloth needs a CUDA GPU",
                "Qwen/Qwen3-8B",
            ],
        ),
        ("nl_q4b_mlx", ["ANTHROPIC_API_KEY", "Qwen/Qwen3-4B"]),  # mlx itself is installed by setup.sh
        ("memory_q8b_tinker", ["ANTHROPIC_API_KEY", "TINKER_API_KEY", "Qwen/Qwen3-8B"]),
    ],
)
def test_frontier_presets_name_what_is_missing(preset: str, expected: list[str]) -> None:
    cfg = _compose([f"+experiment={preset}"])
    with pytest.raises(MissingRequirement) as err:
        preflight.check(cfg, list(cfg.stages))
    for needle in expected:
        assert needle in str(err.value), needle


def test_only_selected_stages_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-real-123")
    cfg = _compose(["+experiment=code_q8b"])
    preflight.check(cfg, ["generate"])  # the teacher's key is there: generate may run
    with pytest.raises(MissingRequirement) as err:
        preflight.check(cfg, ["generate", "validate"])
    assert "OPENAI_API_KEY" in str(err.value) and "ANTHROPIC_API_KEY" not in str(err.value)
    preflight.check(_compose(["+experiment=code_q8b", "validation=local"]), ["generate", "validate"])


def test_cli_refuses_before_spending(tmp_path: Path) -> None:
    proc = run_cli(["+experiment=code_q8b", f"paths.outputs={tmp_path}/out"], cwd=tmp_path, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "nothing was spent" in proc.stderr
    assert "ANTHROPIC_API_KEY" in proc.stderr
    runs = list((tmp_path / "out").glob("runs/*"))
    assert all(not (r / "generate").exists() for r in runs)
