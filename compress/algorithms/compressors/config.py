"""The `compressor` node's schema per kind (conf/compressor/): a registry keyed by `compressor.name`.

Types only: each kind's values and what they mean are in conf/compressor/<kind>.yaml, which lists its
schema first in its defaults list; `compress.pipeline.config_store` stores every entry of
`COMPRESSOR_SCHEMAS` as `compressor/schema_<kind>`. So a misspelt key or a value of the wrong type in
the YAML, a preset or an override fails when Hydra composes the config, naming the key, and the kind's
code reads its node as the dataclass (`ClassifierConfig.of(cfg.compressor)`), with no defaults of its
own. Field order is the YAML's, so the composed config prints (and hashes) as the YAML reads.

A new kind `<kind>` adds three things:
1. here, a dataclass `<Kind>Config(Schema)` with a `name: str` and every key of its YAML, in the YAML's
   order, each `= MISSING` (a nested node is a dataclass of its own, `field(default_factory=...)`);
2. an entry `"<kind>": <Kind>Config` in `COMPRESSOR_SCHEMAS`;
3. in conf/compressor/<kind>.yaml, `defaults: [schema_<kind>, _self_]` above its keys.
tests/test_configs.py checks that every kind has its schema and every option composes onto it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from compress.infra.config_schema import Schema


@dataclass
class GenerativeConfig(Schema):
    """`compressor=generative`: the LoRA LM; its training settings are `train` (`TrainConfig`)."""

    name: str = MISSING


@dataclass
class LabelsConfig(Schema):
    """`compressor.labels`: which LLM-teacher pairs give labels (their alignment's quality)."""

    min_found: float = MISSING
    max_invented: float = MISSING


@dataclass
class ClassifierConfig(Schema):
    """`compressor=classifier` (and `classifier_fast`): the keep/drop token classifier on an encoder."""

    name: str = MISSING
    encoder: str = MISSING
    encoder_layers: int | None = MISSING
    max_length: int = MISSING
    overlap: int = MISSING
    lr: float = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    freeze_embeddings: bool = MISSING
    amp: bool = MISSING
    device: str = MISSING
    quantize: str = MISSING
    query_aware: bool = MISSING
    max_query_tokens: int = MISSING
    query_boost: float = MISSING
    inference_batch: int = MISSING
    protect: list[str] = MISSING
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    threads: int | None = MISSING


@dataclass
class AnswerLabelsConfig(Schema):
    """`compressor.labels` of the selector: the corpora and the questions its labels come from."""

    sources: dict[str, int] = MISSING
    min_words: int = MISSING
    max_words: int = MISSING
    examples: int = MISSING
    k_max: int = MISSING
    no_query_share: float = MISSING
    parts: int = MISSING


@dataclass
class PriorConfig(Schema):
    """`compressor.prior` of the selector: what a unit's position adds to its score."""

    first: float = MISSING
    head: float = MISSING
    doc: float = MISSING


@dataclass
class SelectorConfig(Schema):
    """`compressor=selector`: the query-aware unit selector on an encoder."""

    name: str = MISSING
    encoder: str = MISSING
    encoder_layers: int | None = MISSING
    max_length: int = MISSING
    overlap: int = MISSING
    max_query_tokens: int = MISSING
    mark_matches: bool = MISSING
    labels: AnswerLabelsConfig = field(default_factory=AnswerLabelsConfig)
    lr: float = MISSING
    epochs: int = MISSING
    batch_size: int = MISSING
    pos_weight: float = MISSING
    freeze_embeddings: bool = MISSING
    amp: bool = MISSING
    device: str = MISSING
    quantize: str = MISSING
    inference_batch: int = MISSING
    threads: int | None = MISSING
    rate: float = MISSING
    prior: PriorConfig = field(default_factory=PriorConfig)
    lexical: float = MISSING
    protect: list[str] = MISSING


COMPRESSOR_SCHEMAS: dict[str, type[Schema]] = {
    "generative": GenerativeConfig,
    "classifier": ClassifierConfig,
    "selector": SelectorConfig,
}
