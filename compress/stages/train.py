"""train: train the compressor of the configured kind (`compressor=`: the selector by default, the
generative LoRA LM, the token classifier; `compress.algorithms.kinds`) on the train split ->
`adapter` (with its compressor.json) + `train_log`. The kind decides what it reads: its config keys
(`train_reads`, the stage's fingerprint) and which columns of the rows below."""

from __future__ import annotations

from typing import Any

from datasets import Dataset, load_from_disk

from compress.algorithms.compressors.base import read_meta
from compress.algorithms.kinds import kind_of
from compress.algorithms.teachers.answers import normal
from compress.infra.schemas import TRAIN_LOG_FEATURES
from compress.stages.context import StageContext

# what each train-split row carries: the pair, its validation outcome, the teacher's keep mask and its
# alignment quality, the probe questions validate asked and the token counts
ROW_COLUMNS = (
    "original",
    "compressed",
    "passed",
    "keep",
    "align_found",
    "align_invented",
    "probes",
    "original_tokens",
    "compressed_tokens",
)


def run_train(ctx: StageContext) -> dict[str, Any]:
    """Train the configured compressor kind on the train split -> adapter + `train_log`."""
    validated = load_from_disk(str(ctx.inputs["validate"] / "validated"))
    rows = [{k: r[k] for k in ROW_COLUMNS} for r in validated if r["split"] == "train"]
    held_out = {normal(r["original"]) for r in validated if r["split"] != "train"}
    kind = kind_of(ctx.cfg)
    result = kind.train(
        ctx.cfg, rows, ctx.out, ctx.cache, lambda m, step: ctx.log.log(m, step=step), held_out
    )
    Dataset.from_list(result["history"], features=TRAIN_LOG_FEATURES).save_to_disk(str(ctx.out / "train_log"))
    meta = read_meta(ctx.out / "adapter")
    made_by = {"kind": kind.name} | ({"backend": str(meta["backend"])} if "backend" in meta else {})
    ctx.log.artifact(ctx.out / "adapter", "adapter", "model", made_by)
    metrics: dict[str, Any] = result["metrics"]
    return metrics
