"""Before anything is spent: does this machine have what each selected stage needs?

Preflight asks every selected part for its requirements (the teacher kind, the validator and judge
models, the compressor kind (for the generative kind: its backend and base model), the gold tasks, the logger, the budget) and reports every
missing key, GPU, package, model or unreadable file at once, named with its stage and its fix; and
every config key a typed node's schema lacks (one added with `+`, which composition lets through).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from compress.algorithms.kinds import kind_of
from compress.algorithms.metrics.tasks import task_requirements
from compress.algorithms.teachers import teacher_kind
from compress.infra.errors import CompressError, MissingRequirement
from compress.infra.llm.costs import price_per_token
from compress.infra.llm.requirements import model_needs
from compress.pipeline.config_store import schema_problems


def stage_needs(stage: str, cfg: Any) -> list[str]:
    """What `stage` lacks on this machine under `cfg` (empty when it can run)."""
    problems: list[str] = []
    endpoints = cfg.llm.get("endpoints")
    if stage == "generate":
        try:
            problems += teacher_kind(cfg).requirements(cfg)
        except CompressError as exc:
            problems.append(f"generate: {exc}")
    if stage in {"validate", "evaluate"}:
        for m in cfg.validation.models:
            problems += model_needs(str(m), stage, "validator", endpoints)
    if stage == "evaluate":
        problems += task_requirements(cfg.evaluate)
    if stage == "validate" and cfg.validation.get("judge"):
        for m in cfg.validation.judge.models:
            problems += model_needs(str(m), stage, "judge", endpoints)
    if stage in {"train", "evaluate"}:
        # the compressor kind says what it needs (the generative kind: its backend and base model)
        try:
            problems += kind_of(cfg).requirements(cfg, stage)
        except CompressError as exc:
            problems.append(f"{stage}: {exc}")
    return problems


def logger_needs(cfg: Any) -> list[str]:
    """An online W&B logger needs credentials."""
    if cfg.logger.kind != "wandb" or cfg.logger.mode != "online" or os.environ.get("WANDB_API_KEY"):
        return []
    netrc = Path("~/.netrc").expanduser()
    if netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore"):
        return []
    return ["logging: logger=wandb_online needs WANDB_API_KEY or `wandb login`; or use logger=wandb_offline."]


def stage_models(stage: str, cfg: Any) -> list[str]:
    """The LiteLLM models a stage calls."""
    models: list[str] = []
    if stage == "generate" and cfg.teacher.kind == "llm":
        models.append(str(cfg.teacher.model))
    if stage in {"validate", "evaluate"}:
        models += [str(m) for m in cfg.validation.models]
    if stage == "validate" and cfg.validation.get("judge"):
        models += [str(m) for m in cfg.validation.judge.models]
    return models


def budget_needs(cfg: Any, stages: list[str]) -> list[str]:
    """A budget can only be kept for models whose price is known."""
    if cfg.llm.get("budget_usd") is None:
        return []
    prices = cfg.llm.get("prices") or {}
    unpriced = sorted({m for s in stages for m in stage_models(s, cfg) if price_per_token(m, prices) is None})
    return [
        f"llm.budget_usd is set but LiteLLM knows no price for {m}: add "
        f'llm.prices={{"{m}": {{input_per_mtok: ..., output_per_mtok: ...}}}}.'
        for m in unpriced
    ]


def check(cfg: Any, stages: list[str]) -> None:
    """Raise MissingRequirement listing everything the selected stages lack."""
    problems = (
        schema_problems(cfg)
        + logger_needs(cfg)
        + budget_needs(cfg, stages)
        + [p for s in stages for p in stage_needs(s, cfg)]
    )
    if problems:
        raise MissingRequirement(
            "this pipeline cannot run here; nothing was spent:\n  - " + "\n  - ".join(dict.fromkeys(problems))
        )
