"""train: LoRA-train the compressor on the train split, weighted by validation outcome -> adapter + `train_log`."""

from __future__ import annotations

from typing import Any

import numpy as np
from datasets import Dataset, load_from_disk

from compress.backends import get_backend
from compress.compressors.export import export_all
from compress.errors import CompressError
from compress.schemas import TRAIN_LOG_FEATURES
from compress.stages.context import StageContext


def run_train(ctx: StageContext) -> dict[str, Any]:
    """LoRA-train the compressor on the train split, weighted by validation outcome -> adapter + `train_log`."""
    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    w = ctx.cfg.train.weights
    rows = [
        {
            "original": r["original"],
            "compressed": r["compressed"],
            "weight": float(w.passed if r["passed"] else w.failed),
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
    backend = get_backend(str(ctx.cfg.backend.name))
    result = backend.train(ctx.cfg, rows, ctx.out, ctx.cache, lambda m, step: ctx.log.log(m, step=step))
    Dataset.from_list(result["history"], features=TRAIN_LOG_FEATURES).save_to_disk(str(ctx.out / "train_log"))
    ctx.log.artifact(ctx.out / "adapter", "adapter", "model", {"backend": str(ctx.cfg.backend.name)})
    if ctx.cfg.train.get(
        "export"
    ):  # merged model / GGUF LoRA into train/export (see compress.compressors.export)
        done = export_all(ctx.out / "adapter", ctx.out / "export", list(ctx.cfg.train.export), ctx.cache)
        result["metrics"].update({f"export_{k}": str(v.relative_to(ctx.out)) for k, v in done.items()})
    weights = [r["weight"] for r in rows]
    return {
        **result["metrics"],
        "weighted_rows": sum(1 for x in weights if x > 0),
        "weight_mean": float(np.mean(weights)),
    }
