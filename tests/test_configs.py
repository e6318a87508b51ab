"""Every config composes on every machine: every option of every group, every preset and search.

As lightning-hydra-template's tests/test_configs.py: compose each, and check it holds what its file says.
"""

from __future__ import annotations

from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from tests.conftest import ROOT

CONF = ROOT / "conf"
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
SEARCHES = sorted(p.stem for p in (CONF / "hparams_search").glob("*.yaml"))
# plain groups: one option replaces the group's node
GROUPS = {
    d.name: sorted(p.stem for p in d.glob("*.yaml"))
    for d in sorted(CONF.iterdir())
    if d.is_dir() and d.name not in {"experiment", "hparams_search", "hydra", "prompts"}
}


def _compose(overrides: list[str], hydra: bool = False) -> Any:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a plain dict as dotted key -> value (`defaults` lists left out)."""
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "defaults":
            continue
        key = f"{prefix}{k}"
        out |= _leaves(v, key + ".") if isinstance(v, dict) else {key: v}
    return out


@pytest.mark.parametrize(("group", "option"), [(g, o) for g, opts in GROUPS.items() for o in opts])
def test_every_option_composes_to_its_file(group: str, option: str) -> None:
    cfg = _compose([f"{group}={option}"])
    raw = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"), resolve=False)
    node = OmegaConf.to_container(cfg[group], resolve=False)
    assert isinstance(raw, dict) and isinstance(node, dict)
    composed = _leaves(node)
    # what the file sets is what the group holds (an option with defaults of its own holds more)
    assert {k: composed.get(k) for k in _leaves(raw)} == _leaves(raw)
    if group != "paths":  # paths reads Hydra's runtime dirs, which exist only inside a running app
        OmegaConf.to_container(cfg[group], resolve=True)


def test_required_presets_exist() -> None:
    assert {"smoke", "code_q8b", "nl_q4b_mlx", "memory_q8b_tinker"} <= set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_composes_and_sets_what_it_says(preset: str) -> None:
    cfg = _compose([f"+experiment={preset}"])
    raw = OmegaConf.to_container(OmegaConf.load(CONF / "experiment" / f"{preset}.yaml"), resolve=False)
    assert isinstance(raw, dict)
    own = _leaves(raw)
    for key, value in own.items():
        assert OmegaConf.select(cfg, key) == value, key
    # an override in its defaults list swaps the group's option: the rest of that option's file shows
    for entry in raw.get("defaults", []):
        for target, option in entry.items():
            group = target.removeprefix("override /")
            chosen = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"), resolve=False)
            assert isinstance(chosen, dict)
            node = OmegaConf.to_container(cfg[group], resolve=False)
            assert isinstance(node, dict)
            composed = _leaves(node)
            for key, value in _leaves(chosen).items():
                if f"{group}.{key}" not in own:
                    assert composed.get(key) == value, f"{group}.{key}"
    assert list(cfg.stages) == ["generate", "validate", "train", "evaluate"]
    # everything but the hydra-runtime paths resolves without a running app
    OmegaConf.to_container(cfg.train, resolve=True)
    OmegaConf.to_container(cfg.data, resolve=True)


@pytest.mark.parametrize("search", SEARCHES)
def test_every_search_composes_with_its_sweeper(search: str) -> None:
    cfg = _compose([f"hparams_search={search}", "+experiment=smoke"], hydra=True)
    raw = OmegaConf.load(CONF / "hparams_search" / f"{search}.yaml")
    assert cfg.optimize.metric == raw.optimize.metric
    assert "compress_plugins" in cfg.hydra.sweeper._target_
    assert dict(cfg.hydra.sweeper.params) == dict(raw.hydra.sweeper.params)


def test_default_is_the_embedded_setup() -> None:
    cfg = _compose([])
    assert cfg.model.name == "gemma3-270m" and cfg.backend.name == "torch"
    assert cfg.teacher.kind == "selfinfo"
    assert list(cfg.validation.models) == ["local/gemma3-270m"]
    assert cfg.logger.mode == "offline"


def test_the_needle_study_is_the_default_study_with_the_needle() -> None:
    study, needle = _compose(["+experiment=study"]), _compose(["+experiment=needle"])
    assert needle.data == study.data and needle.evaluate.max_samples == study.evaluate.max_samples
    assert list(study.evaluate.tasks) == ["cloze"] and list(needle.evaluate.tasks) == ["cloze", "needle"]
    assert list(needle.evaluate.task_rates) == [0.5, 0.25] and needle.evaluate.needle.k == 4
