"""The `train` node's schema (conf/train/lora.yaml): the LoRA fine-tune of the generative kind, and the
per-example weights every kind trains with.

Types only: the values and what each means are in conf/train/lora.yaml, which lists this schema
(`schema_lora`, stored by `compress.pipeline.config_store`) first in its defaults list. The field
order is the YAML's, so the composed config prints (and hashes) as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from compress.infra.config_schema import Schema


@dataclass
class LoraConfig(Schema):
    """`train.lora`: PEFT's LoRA settings."""

    rank: int = MISSING
    alpha: int = MISSING
    dropout: float = MISSING
    target_modules: list[str] = MISSING


@dataclass
class WeightsConfig(Schema):
    """`train.weights`: each example's loss weight by its validation outcome."""

    passed: float = MISSING
    failed: float = MISSING


@dataclass
class TrainConfig(Schema):
    """`train`: the LoRA fine-tune's settings (the backends read them) and the weights and exports of the
    train stage."""

    lora: LoraConfig = field(default_factory=LoraConfig)
    lr: float = MISSING
    steps: int = MISSING
    batch_size: int = MISSING
    max_seq_len: int = MISSING
    weights: WeightsConfig = field(default_factory=WeightsConfig)
    export: list[str] = MISSING
