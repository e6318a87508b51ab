"""The base of the typed config nodes (Hydra structured configs), and how code reads a node through one.

A schema is a dataclass of types and structure; the values stay in the group's YAML, which lists the
schema in its defaults list (see `compress.pipeline.config_store`). Composition merges the YAML onto
the schema, so a misspelt key or a value of the wrong type fails there, naming the key, and the code
reads the node as the dataclass (`ClassifierConfig.of(cfg.compressor).max_length`), with no defaults
of its own.
"""

from __future__ import annotations

from typing import Any, Self, cast

from omegaconf import DictConfig, OmegaConf


class Schema:
    """A typed config node: subclasses are dataclasses whose fields are MISSING (the YAML sets them)."""

    @classmethod
    def of(cls, node: Any) -> Self:
        """`node` as an instance of this schema. A composed node was checked when Hydra composed it; a
        plain one (a test's, a run dir's saved config) is checked here: a key the schema lacks, a value
        left missing or of the wrong type raises, naming the key."""
        # as plain values: a structured node merges past the schema the keys `+key=` added to it, and
        # to_object would keep them as attributes
        plain = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else node
        merged = OmegaConf.merge(OmegaConf.structured(cls), plain)
        return cast(Self, OmegaConf.to_object(merged))
