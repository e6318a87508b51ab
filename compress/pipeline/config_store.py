"""Hydra's ConfigStore entries for the typed config nodes: call `register_configs()` before composing.

Each schema is stored in its group as `schema_<option>` (`compressor/schema_<kind>` from each
compressor kind's record, `compress.algorithms.kinds`; `train/schema_lora`), and the option's YAML lists it first in its defaults list (Hydra 1.3's schema
pattern, "Structured Configs: Config Store API" and "Extending Configs"):

    defaults:
      - schema_classifier
      - _self_

Composition then merges the YAML onto the schema, so every key the YAML, a preset or an override sets
is checked against it. Without the entries the YAML's defaults list names a config that does not exist,
so every entry point that composes registers first: `compress.run`, `compress.pipeline.model_select`'s
table, the Optuna sweeper and Ray launcher plugins, tests/conftest.py and the experiments that compose.

One gap composition leaves: Hydra adds a key given with `+` or `++` (`+compressor.encodr=x`) past the
schema, as asked. `schema_problems` finds those; preflight reports them before anything runs.
"""

from __future__ import annotations

from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from compress.algorithms.kinds import KINDS
from compress.infra.config_schema import Schema
from compress.infra.training.config import TrainConfig

PROVIDER = "compress"


def schema_name(option: str) -> str:
    """The ConfigStore name of an option's schema, as its YAML's defaults list names it."""
    return f"schema_{option}"


def register_configs() -> None:
    """Store every schema (idempotent: storing one again replaces it with the same node)."""
    cs = ConfigStore.instance()
    for kind in KINDS.values():
        cs.store(group="compressor", name=schema_name(kind.name), node=kind.schema, provider=PROVIDER)
    cs.store(group="train", name=schema_name("lora"), node=TrainConfig, provider=PROVIDER)


def typed_nodes(cfg: Any) -> dict[str, type[Schema]]:
    """The typed nodes of a job config by their path, each with its schema (a compressor of a kind with
    unknown kind is left to `compress.algorithms.kinds.kind_of`, which names the kinds there are)."""
    nodes: dict[str, type[Schema]] = {"train": TrainConfig}
    kind = str(OmegaConf.select(cfg, "compressor.name"))
    if kind in KINDS:
        nodes["compressor"] = KINDS[kind].schema
    return nodes


def schema_problems(cfg: Any) -> list[str]:
    """Each typed node's key that its schema lacks, or value it cannot take, named by its full path."""
    problems = []
    for path, schema in typed_nodes(cfg).items():
        try:
            schema.of(cfg[path])
        except OmegaConfBaseException as exc:
            key = f"{path}.{exc.full_key}" if exc.full_key else path
            reason = str(exc.msg).splitlines()[0]
            problems.append(
                f"config: {key}: {reason}; `python -m compress.run --cfg job -p {path}` lists its keys."
            )
    return problems
