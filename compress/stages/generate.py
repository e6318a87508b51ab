"""generate: sample the corpus and let the teacher compress each sample -> `pairs`."""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset, concatenate_datasets

from compress.algorithms.data.amplify import amplify
from compress.algorithms.data.corpora import load_samples
from compress.algorithms.data.domains import sub_domain
from compress.algorithms.teachers import make_teacher
from compress.algorithms.teachers.alignment import Alignment, align
from compress.algorithms.teachers.base import effective_rate
from compress.algorithms.text.words import inside, split_words
from compress.infra.errors import CompressError
from compress.infra.schemas import PAIR_FEATURES
from compress.stages.context import StageContext, target_counter


def run_generate(ctx: StageContext) -> dict[str, Any]:
    """Sample the corpus and let the teacher compress each sample -> `pairs`."""
    samples = load_samples(ctx.cfg.data, str(ctx.cfg.domain.name))
    augment = _augment(ctx, samples)
    if augment:
        samples = concatenate_datasets(
            [samples, Dataset.from_list(augment.pop("rows"), features=samples.features)]
        )
    teacher = make_teacher(ctx.cfg, ctx.cache, ctx.llm)
    outs = teacher(list(samples["text"]), [sub_domain(ctx.cfg.domain, d) for d in samples["domain"]])
    counter = target_counter(ctx)
    counter.prefetch([*samples["text"], *(o.compressed for o in outs)])
    align_cfg = ctx.cfg.teacher.get("align") or {}
    rows = []
    for s, o in zip(samples, outs, strict=True):
        words = split_words(s["text"])
        if o.kept is not None:  # an extractive teacher knows what it kept: the exact mask
            labels = Alignment(inside(words, o.kept), 1.0, 0, len(o.compressed.split()))
        else:
            labels = align(
                words, o.compressed, int(align_cfg.get("window", 40)), float(align_cfg.get("fuzzy", 0.85))
            )
        rows.append(
            {
                "id": s["id"],
                "domain": s["domain"],
                "source": s["source"],
                "split": s["split"],
                "original": s["text"],
                "compressed": o.compressed,
                "teacher": teacher.name,
                "original_tokens": counter.count(s["text"]),
                "compressed_tokens": counter.count(o.compressed),
                "teacher_seconds": o.seconds,
                "keep": labels.keep.tolist(),
                "align_found": labels.found,
                "align_invented": labels.invented,
            }
        )
    ds = Dataset.from_list(rows, features=PAIR_FEATURES)
    ds.save_to_disk(str(ctx.out / "pairs"))
    target = ctx.cfg.teacher.get("target_tokens")
    requested = [effective_rate(float(ctx.cfg.teacher.rate), target, r["original_tokens"]) for r in rows]
    orig, comp = sum(ds["original_tokens"]), sum(ds["compressed_tokens"])
    splits = list(ds["split"])
    metrics = {
        "samples": len(ds),
        "requested_rate": float(np.mean(requested)),
        "achieved_rate": comp / max(1, orig),
        # per sample, how far the teacher landed from what was asked (protected spans can push it up)
        "rate_abs_error_mean": float(
            np.mean(
                [
                    abs(c / max(1, o) - r)
                    for o, c, r in zip(ds["original_tokens"], ds["compressed_tokens"], requested, strict=True)
                ]
            )
        ),
        "original_tokens": orig,
        "compressed_tokens": comp,
        "tokenizer": counter.name,
        "teacher_seconds_p50": float(np.percentile(list(ds["teacher_seconds"]), 50)),
        # how well the teacher's outputs align back to the original (1.0 / 0 for an extractive teacher)
        "align_found_mean": float(np.mean(ds["align_found"])),
        "align_invented_mean": float(np.mean(ds["align_invented"])),
        **(augment or {}),
        **{f"split/{k}": splits.count(k) for k in ("train", "val", "test")},
    }
    ctx.log.table("pairs", rows[:200])
    ctx.log.artifact(ctx.out / "pairs", "pairs", "dataset", {"features": list(PAIR_FEATURES)})
    return metrics


def _augment(ctx: StageContext, samples: Dataset) -> dict[str, Any] | None:
    """Seed amplification of the train split when `data.augment_factor` > 0; None otherwise."""
    factor = int(ctx.cfg.data.get("augment_factor") or 0)
    if factor <= 0:
        return None
    model = ctx.cfg.data.get("augment_model") or (
        ctx.cfg.teacher.model if ctx.cfg.teacher.kind == "llm" else None
    )
    if not model:
        raise CompressError(
            "data.augment_factor needs an LLM to write new inputs: set data.augment_model (e.g. local/gemma3-270m "
            "or anthropic/claude-sonnet-4-5) or use an llm teacher."
        )
    seeds = [r for r in samples if r["split"] == "train"]
    out = amplify(
        ctx.llm,
        seeds,
        factor,
        str(model),
        float(ctx.cfg.data.get("augment_temperature", 0.8)),
        int(ctx.cfg.data.get("augment_max_tokens", 512)),
    )
    return {
        "rows": out.rows,
        "augment/requested": out.requested,
        "augment/kept": len(out.rows),
        "augment/duplicates": out.duplicates,
        "augment/empty": out.empty,
    }
