"""How small can the default selector's training be? Train time against the answer kept on development
needles, so README command 1 can finish in minutes without a quality the study could tell apart.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/first_run/tune.py \
        --config examples=1500 --config examples=500 --config examples=500,max_length=256

The development set: 150 standard-library docstrings picked by content hash (`dev_texts`), never in
any trained selector's label pool (they are excluded as the evaluation's held-out texts are), and
nowhere in the default run's test split either (its texts are the study's, drawn by the run). Needle
questions are built from them as the evaluate stage builds its own (k = 4 distractors, 3 facts per
text, at most 240), each context compressed at rates 0.25 and 0.125 with the question as the query.
Reported per configuration: train seconds (the label build included), training windows, and the
share of questions whose answer string survives, with the lexical term as configured and with the
encoder alone (lexical 0: what training itself bought). bm25 is the reference row. No LLM call.
Writes results/tune.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.compressors.base import Compressor, Request, tokens_at  # noqa: E402
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline  # noqa: E402
from compress.algorithms.data.corpora import iter_stdlib_nl, stable_hash  # noqa: E402
from compress.algorithms.kinds.selector import SelectorMeta, load_selector, train_selector  # noqa: E402
from compress.algorithms.metrics.gold import GoldItem  # noqa: E402
from compress.algorithms.metrics.needle import needle_items  # noqa: E402
from compress.algorithms.teachers.answers import normal  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.infra.models.bundled import default_cache  # noqa: E402

RATES = (0.25, 0.125)
OUT = Path(__file__).parent / "results" / "tune.json"


def dev_texts(n: int = 150) -> list[str]:
    """`n` docstrings of 40..220 words whose content hash ends in 7 (about a tenth of them)."""
    out = []
    for row in iter_stdlib_nl(0):
        words = len(row["text"].split())
        if 40 <= words <= 220 and stable_hash(row["text"]).endswith("7"):
            out.append(row["text"])
        if len(out) >= n:
            break
    return out


def selector_cfg(over: dict[str, Any]) -> DictConfig:
    """conf/compressor/selector.yaml with the overrides, as the train stage passes it."""
    node = OmegaConf.load(ROOT / "conf" / "compressor" / "selector.yaml")
    assert isinstance(node, DictConfig)
    node.pop("defaults")
    cfg = OmegaConf.create({"seed": 0, "compressor": node})
    for key, value in over.items():
        OmegaConf.update(cfg, f"compressor.{key}", value, merge=False)
    return cfg


def parse(spec: str) -> dict[str, Any]:
    """`examples=500,max_length=256` -> overrides (labels.* keys may be given bare)."""
    out: dict[str, Any] = {}
    for part in filter(None, spec.split(",")):
        key, value = part.split("=", 1)
        key = f"labels.{key}" if key in ("examples", "k_max", "no_query_share", "parts") else key
        out[key] = json.loads(value) if value[:1].isdigit() or value[:1] in "[{-" else value
    return out


def kept(comp: Compressor, items: list[GoldItem], counter: TokenCounter, rate: float) -> list[bool]:
    """Whether each item's answer survives compression of its context at `rate` (query given)."""
    out = []
    for it in items:
        n = counter.count(it.context)
        (c,) = comp.compress_many(
            [Request(it.context, tokens_at(rate, n), None, it.question, tokens=n)], counter
        )
        flat = " ".join(c.text.split())
        out.append(any(" ".join(a.split()) in flat for a in it.answers))
    return out


def main() -> None:
    """Train each configuration and measure it on the development needles, bm25 beside."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--config", action="append", default=[], help="overrides of the selector, e.g. examples=500"
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    cache = default_cache()
    counter = TokenCounter("local/gemma3-270m", cache)
    texts = dev_texts()
    items = needle_items([stable_hash(t) for t in texts], texts, 4, 240, 3, 0)
    held = {normal(t) for t in texts}
    rows: list[dict[str, Any]] = []
    bm25 = make_baseline("bm25", BaselineContext(cache))
    rows.append(
        {"config": "bm25", **{f"kept@{r}": float(np.mean(kept(bm25, items, counter, r))) for r in RATES}}
    )
    print(json.dumps(rows[-1]), flush=True)
    for spec in args.config:
        over = parse(spec)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            result = train_selector(selector_cfg(over), [], Path(tmp), lambda m, s: None, held)
            seconds = time.perf_counter() - t0
            adapter = Path(tmp) / "adapter"
            meta = SelectorMeta.model_validate_json((adapter / "compressor.json").read_text())
            row: dict[str, Any] = {
                "config": spec,
                "train_s": round(seconds, 1),
                "windows": result["metrics"]["windows"],
            }
            for lexical in (meta.lexical, 0.0):
                sel = load_selector(adapter, meta.model_copy(update={"lexical": lexical}))
                for r in RATES:
                    row[f"kept@{r}" + ("" if lexical else " encoder")] = float(
                        np.mean(kept(sel, items, counter, r))
                    )
            rows.append(row)
            print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"n_items": len(items), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
