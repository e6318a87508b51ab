"""What a stage is handed, and the helpers every stage uses to read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compress.data.domains import sub_domain
from compress.errors import CompressError
from compress.llm.client import LLMSession
from compress.llm.tokens import TokenCounter
from compress.schemas import EvalSummary
from compress.tracking import StageLogger


@dataclass
class StageContext:
    """What a stage gets: the job config, its output dir, upstream outputs, the cache and its logger."""

    cfg: Any
    out: Path
    inputs: dict[str, Path]
    cache: Path
    log: StageLogger
    llm: LLMSession


def target_counter(ctx: StageContext) -> TokenCounter:
    """Token counts by `tokens.model`'s (default: the first validator's) own tokenizer where it can be had."""
    tokens = ctx.cfg.get("tokens") or {}
    return TokenCounter(
        str(tokens.get("model") or ctx.cfg.validation.models[0]),
        ctx.cache,
        calls=ctx.llm.cache,
        count_api=bool(tokens.get("count_api", True)),
        max_retries=int(ctx.cfg.llm.max_retries),
    )


def routing(ctx: StageContext, sample_domains: list[str]) -> tuple[list[Any], list[list[str]]]:
    """Each sample's domain settings and its probe tasks (the first `validation.n_probes` of its domain)."""
    doms = [sub_domain(ctx.cfg.domain, d) for d in sample_domains]
    probes = [list(d.probes)[: int(ctx.cfg.validation.n_probes)] for d in doms]
    if not all(probes):
        raise CompressError(
            "validation.n_probes must be at least 1 and every domain's probes list must not be empty."
        )
    return doms, probes


def read_summary(run_dir: Path) -> EvalSummary:
    """The evaluation summary of a run dir."""
    return EvalSummary.model_validate(json.loads((run_dir / "evaluate" / "summary.json").read_text()))
