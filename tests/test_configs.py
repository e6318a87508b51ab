"""Every config composes on every machine: every option of every group, every preset and search.

As lightning-hydra-template's tests/test_configs.py: compose each, and check it holds what its file says.
The typed nodes (`compressor`, `train`) compose onto their schemas: each default is written once, in
the YAML, and a misspelt key fails, naming the key.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import MISSING, OmegaConf

from compress.algorithms.kinds import KINDS
from compress.infra.errors import MissingRequirement
from compress.infra.training.config import TrainConfig
from compress.pipeline import preflight
from compress.pipeline.config_store import schema_name, schema_problems
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


def _leaves(node: Any, prefix: str = "", whole: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every leaf of a plain dict as dotted key -> value (`defaults` lists left out); a key in `whole`
    (a field typed as a mapping) is one leaf however many keys its value has."""
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "defaults":
            continue
        key = f"{prefix}{k}"
        nested = isinstance(v, dict) and key not in whole
        out |= _leaves(v, key + ".", whole) if nested else {key: v}
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


# --- the typed nodes (compress/pipeline/config_store.py): each YAML composed onto its schema ---------


def _schema_leaves(schema: type, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of a schema dataclass as dotted key -> its default, in field order."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(schema):
        default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            out |= _schema_leaves(type(default), f"{prefix}{f.name}.")
        else:
            out[f"{prefix}{f.name}"] = default
    return out


def _schema_types(schema: type, prefix: str = "") -> dict[str, Any]:
    """Every leaf field of a schema dataclass as dotted key -> its type."""
    out: dict[str, Any] = {}
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        t = hints[f.name]
        out |= (
            _schema_types(t, f"{prefix}{f.name}.")
            if isinstance(t, type) and dataclasses.is_dataclass(t)
            else {f"{prefix}{f.name}": t}
        )
    return out


# each schema and the option file that lists it first in its defaults list
SCHEMA_FILES: list[tuple[type, Path]] = [
    *((kind.schema, CONF / "compressor" / f"{name}.yaml") for name, kind in KINDS.items()),
    (TrainConfig, CONF / "train" / "lora.yaml"),
]


@pytest.mark.parametrize(
    ("schema", "path"), SCHEMA_FILES, ids=[f"{p.parent.name}/{p.stem}" for _, p in SCHEMA_FILES]
)
def test_each_default_is_written_once_in_the_yaml_onto_its_schema(schema: type, path: Path) -> None:
    raw = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    assert isinstance(raw, dict)
    assert raw["defaults"][0] == schema_name(path.stem)  # the schema first, the file's values over it
    # the dataclass gives types only: a default there would be a second copy of the YAML's
    fields = _schema_leaves(schema)
    assert {k: v for k, v in fields.items() if v != MISSING} == {}
    # the YAML sets every field, in the schema's order: the composed node prints (and hashes) as it reads
    mappings = frozenset(k for k, t in _schema_types(schema).items() if typing.get_origin(t) is dict)
    assert list(_leaves(raw, whole=mappings)) == list(fields)
    cfg = _compose([f"{path.parent.name}={path.stem}"])
    node = cfg[path.parent.name]
    assert OmegaConf.get_type(node) is schema and not OmegaConf.missing_keys(node)


@pytest.mark.parametrize("option", GROUPS["compressor"])
def test_every_compressor_option_composes_onto_its_kinds_schema(option: str) -> None:
    cfg = _compose([f"compressor={option}"])
    schema = KINDS[str(cfg.compressor.name)].schema
    assert OmegaConf.get_type(cfg.compressor) is schema
    typed = schema.of(cfg.compressor)
    # the schema changes no value's type (an int that became a float would change a fingerprint's JSON)
    raw = OmegaConf.to_container(OmegaConf.load(CONF / "compressor" / f"{option}.yaml"), resolve=False)
    assert isinstance(raw, dict)
    node = OmegaConf.to_container(cfg.compressor)
    assert isinstance(node, dict)
    composed = _leaves(node)
    for key, value in _leaves(raw).items():
        assert composed[key] == value and type(composed[key]) is type(value), key
    assert dataclasses.asdict(typed) == node


@pytest.mark.parametrize("option", GROUPS["compressor"])
def test_each_kind_reads_its_own_options(option: str) -> None:
    # the evaluate stage asks these of the kind before it loads the compressor: a kind that read another
    # kind's schema failed there, after a whole train stage (the selector read ClassifierConfig)
    cfg = _compose([f"compressor={option}"])
    kind = KINDS[str(cfg.compressor.name)]
    device, dtype = kind.inference_device(cfg)
    assert device in {"cpu", "cuda", "mps"} and dtype
    assert 1 <= kind.budget(cfg, 200) <= 200


def test_every_kind_has_a_schema_and_an_option_of_its_name() -> None:
    assert all(name == kind.name and dataclasses.is_dataclass(kind.schema) for name, kind in KINDS.items())
    assert set(KINDS) <= set(GROUPS["compressor"])


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("compressor.encodr=x", "compressor.encodr"),
        ("train.lora.rnk=8", "train.lora.rnk"),
        ("train.lora.rank=eight", "train.lora.rank"),  # a value of the wrong type, too
    ],
)
@pytest.mark.parametrize("compressor", ["generative", "classifier"])
def test_a_misspelt_key_fails_at_compose_naming_it(compressor: str, override: str, key: str) -> None:
    with pytest.raises(ConfigCompositionException) as err:
        _compose([f"compressor={compressor}", override])
    assert key in f"{err.value}\n{err.value.__cause__}"


@pytest.mark.parametrize(
    ("group", "text", "key"),
    [
        # a preset, and an option that extends a kind's file (as classifier_fast does)
        ("experiment", "# @package _global_\ntrain:\n  lora: {rnk: 8}\n", "train.lora.rnk"),
        (
            "compressor",
            "defaults: [classifier, _self_]\nlabels: {min_fund: 0.5}\n",
            "compressor.labels.min_fund",
        ),
    ],
    ids=["preset", "compressor-option"],
)
def test_a_misspelt_key_in_a_yaml_fails_at_compose_naming_it(
    tmp_path: Path, group: str, text: str, key: str
) -> None:
    (tmp_path / group).mkdir()
    (tmp_path / group / "typo.yaml").write_text(text)
    chosen = "+experiment=typo" if group == "experiment" else f"{group}=typo"
    with pytest.raises(ConfigCompositionException) as err:
        _compose([f"hydra.searchpath=[file://{tmp_path}]", chosen])
    assert key in str(err.value) and "typo" in str(err.value)


@pytest.mark.parametrize(
    ("override", "key"),
    [("+compressor.encodr=x", "compressor.encodr"), ("++train.lora.rnk=8", "train.lora.rnk")],
)
def test_a_key_added_with_plus_passes_compose_and_preflight_names_it(override: str, key: str) -> None:
    # Hydra adds a `+` key past the schema, as asked; the job stops before anything runs
    cfg = _compose(["compressor=classifier", override])
    with pytest.raises(MissingRequirement) as err:
        preflight.check(cfg, [])
    assert f"config: {key}:" in str(err.value)
    assert schema_problems(_compose(["compressor=classifier"])) == []


def test_the_needle_study_is_the_default_study_with_the_needle() -> None:
    study, needle = _compose(["+experiment=study"]), _compose(["+experiment=needle"])
    assert needle.data == study.data and needle.evaluate.max_samples == study.evaluate.max_samples
    assert list(study.evaluate.tasks) == ["cloze"] and list(needle.evaluate.tasks) == ["cloze", "needle"]
    assert list(needle.evaluate.task_rates) == [0.5, 0.25] and needle.evaluate.needle.k == 4
