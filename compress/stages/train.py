"""train: train the compressor of the configured kind (`compressor=`: a LoRA LM, or a token classifier)
on the train split, weighted by validation outcome -> adapter + `train_log`."""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset, load_from_disk

from compress.algorithms.backends.kinds import compressor_kind
from compress.algorithms.backends.lora_export import export_all
from compress.algorithms.teachers.answers import normal
from compress.infra.errors import CompressError
from compress.infra.schemas import TRAIN_LOG_FEATURES
from compress.infra.training.config import TrainConfig
from compress.stages.context import StageContext


def run_train(ctx: StageContext) -> dict[str, Any]:
    """Train the configured compressor kind on the train split, weighted by validation outcome ->
    adapter + `train_log`. Each row carries what either kind needs: the pair, its weight, the
    teacher's keep mask and its alignment quality, and the probe questions validate asked."""
    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    tcfg = TrainConfig.of(ctx.cfg.train)
    w = tcfg.weights
    rows = [
        {
            "original": r["original"],
            "compressed": r["compressed"],
            "weight": w.passed if r["passed"] else w.failed,
            "keep": r["keep"],
            "align_found": r["align_found"],
            "align_invented": r["align_invented"],
            "probes": r["probes"],
            "original_tokens": r["original_tokens"],
            "compressed_tokens": r["compressed_tokens"],
        }
        for r in validated
        if r["split"] == "train"
    ]
    if not any(r["weight"] > 0 for r in rows):
        raise CompressError(
            f"train: none of the {len(rows)} train-split pairs has weight > 0 (passed: "
            f"{sum(1 for r in validated if r['split'] == 'train' and r['passed'])}). Lower validation.threshold, "
            "give failed pairs weight with train.weights.failed=1, or add samples (data.n_samples)."
        )
    kind = compressor_kind(ctx.cfg)
    if kind.name != "generative" and tcfg.export:
        raise CompressError(
            f"train.export={tcfg.export} exports a LoRA adapter; compressor={kind.name} has none. "
            "Set train.export=[]."
        )
    held_out = {normal(r["original"]) for r in validated if r["split"] != "train"}
    result = kind.train(
        ctx.cfg, rows, ctx.out, ctx.cache, lambda m, step: ctx.log.log(m, step=step), held_out
    )
    Dataset.from_list(result["history"], features=TRAIN_LOG_FEATURES).save_to_disk(str(ctx.out / "train_log"))
    made_by = {
        "kind": kind.name,
        "backend": str(ctx.cfg.backend.name) if kind.name == "generative" else "torch",
    }
    ctx.log.artifact(ctx.out / "adapter", "adapter", "model", made_by)
    if (
        tcfg.export
    ):  # merged model / GGUF LoRA into train/export (see compress.algorithms.backends.lora_export)
        done = export_all(ctx.out / "adapter", ctx.out / "export", tcfg.export, ctx.cache)
        result["metrics"].update({f"export_{k}": str(v.relative_to(ctx.out)) for k, v in done.items()})
    weights = [r["weight"] for r in rows]
    return {
        **result["metrics"],
        "weighted_rows": sum(1 for x in weights if x > 0),
        "weight_mean": float(np.mean(weights)),
    }
