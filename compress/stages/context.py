"""What a stage is handed, and the helpers every stage uses to read it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compress.algorithms.data.domains import sub_domain
from compress.algorithms.metrics.probes import text_probes
from compress.infra.errors import CompressError
from compress.infra.llm.client import LLMSession
from compress.infra.llm.tokens import TokenCounter
from compress.infra.schemas import EvalSummary
from compress.infra.tracking import StageLogger


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


@dataclass
class Routed:
    """Each sample's domain settings, its probe questions and the part of the text each probe is about."""

    domains: list[Any]
    probes: list[list[str]]
    parts: list[list[int]]


def routing(ctx: StageContext, texts: list[str], sample_domains: list[str]) -> Routed:
    """Each sample's domain settings and its `validation.n_probes` probes, one per part of the text
    (`compress.algorithms.metrics.probes.text_probes`)."""
    doms = [sub_domain(ctx.cfg.domain, d) for d in sample_domains]
    n = int(ctx.cfg.validation.n_probes)
    per_text = [text_probes(t, d, n) for t, d in zip(texts, doms, strict=True)]
    if n < 1 or not all(per_text):
        raise CompressError(
            "validation.n_probes must be at least 1 and every domain's probes list must not be empty."
        )
    return Routed(
        doms, [[p.question for p in ps] for ps in per_text], [[p.part for p in ps] for ps in per_text]
    )


def read_summary(run_dir: Path) -> EvalSummary:
    """The evaluation summary of a run dir."""
    return EvalSummary.model_validate(json.loads((run_dir / "evaluate" / "summary.json").read_text()))
