"""A stage's fingerprint: the content hash of the config it reads, its inputs' fingerprints and its version."""

from __future__ import annotations

import hashlib
import json
from typing import Any, cast

from omegaconf import Container, DictConfig, OmegaConf

import compress
from compress.stages import STAGES


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, Container) else node


def _drop(node: Any, names: frozenset[str]) -> Any:
    """`node` without the keys in `names`, at any depth (a mixed domain nests its parts' settings)."""
    if isinstance(node, dict):
        return {k: _drop(v, names) for k, v in node.items() if k not in names}
    if isinstance(node, list):
        return [_drop(v, names) for v in node]
    return node


def stage_config(stage: str, cfg: DictConfig) -> dict[str, Any]:
    """The part of the config that decides a stage's output."""
    row = STAGES[stage]
    picked = {k: _plain(OmegaConf.select(cfg, k)) for k in row.keys(cfg)}
    return cast(dict[str, Any], _drop(picked, row.ignored))


def fingerprint(stage: str, cfg: DictConfig, upstream: dict[str, str]) -> str:
    """Content hash of the stage's config, its inputs' fingerprints and the stage's code version."""
    row = STAGES[stage]
    payload = {
        "stage": stage,
        "version": row.version,
        "package": compress.__version__,
        "config": stage_config(stage, cfg),
        "inputs": {k: upstream[k] for k in row.needs},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:20]
