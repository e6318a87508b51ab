"""Preflight: every selected part is asked what it lacks, and all of it is reported before anything runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from compress.infra.errors import MissingRequirement
from compress.pipeline import preflight
from tests.conftest import ROOT, run_cli


def _compose(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


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


def test_a_malformed_qa_file_stops_at_preflight(tmp_path: Path) -> None:
    bad = tmp_path / "qa.jsonl"
    bad.write_text(json.dumps({"question": "q", "answer": "a", "context": "c"}) + "\n{not json\n")
    cfg = _compose(["evaluate.tasks=[qa]", f"evaluate.qa.path={bad}"])
    preflight.check(cfg, ["generate"])  # only the evaluate stage reads it
    with pytest.raises(MissingRequirement) as err:
        preflight.check(cfg, list(cfg.stages))
    assert f"evaluate.qa.path={bad}: line 2 is not valid JSON" in str(err.value)
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"question": "q", "answer": "a", "context": "c"}) + "\n")
    preflight.check(_compose(["evaluate.tasks=[qa]", f"evaluate.qa.path={good}"]), list(cfg.stages))


def test_an_unknown_part_is_named_at_preflight() -> None:
    with pytest.raises(MissingRequirement) as err:
        preflight.check(_compose(["evaluate.tasks=[mmlu]", "teacher.kind=oracle"]), ["generate", "evaluate"])
    assert "unknown task 'mmlu'" in str(err.value) and "teacher.kind='oracle' is unknown" in str(err.value)
