"""Tune the hybrid compressor's weights on the DEVELOPMENT split only (seed 1000 histories and haystacks;
the study reports the test split, seed 0, which nothing here reads).

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/memory_study/tune.py [--rate 0.05]

A small grid over `HybridSettings` (dense weight, bridge weight, a participant's name's weight, recency); each setting's
share of questions whose every evidence turn (statement) survives, per kind of `memory` and per hops of
`tracing`; the objective is the mean over memory's kinds and tracing's hops (every kind weighs the
same). Prints a table, best first, and writes results/tune.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.compressors.base import tokens_at  # noqa: E402
from compress.algorithms.compressors.coarse import Scored, select_text  # noqa: E402
from compress.algorithms.compressors.hybrid import HybridScorer, HybridSettings, auto_shape  # noqa: E402
from compress.algorithms.data.memory import generate  # noqa: E402
from compress.algorithms.data.tracing import generate_tracing  # noqa: E402
from compress.algorithms.metrics.memory_task import kept_checks, memory_items, tracing_items  # noqa: E402
from compress.algorithms.text.words import protected  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.infra.models.bundled import default_cache  # noqa: E402

DEV_SEED = 1000


def main() -> None:
    """Run the grid and print it."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=0.05)
    ap.add_argument("--histories", type=int, default=4)
    ap.add_argument("--tracing", type=int, default=90)
    args = ap.parse_args()
    cache = default_cache()
    counter = TokenCounter("bundled:gemma-3-270m", cache)
    items = memory_items(generate(args.histories, DEV_SEED, questions_per_kind=5))
    items += tracing_items(generate_tracing(args.tracing, DEV_SEED))
    scorer = HybridScorer(cache)
    n_tok = [counter.count(it.context) for it in items]
    layouts = {}
    # a first grid (dense 0.5-2, bridge 0.3-0.6, context 0-0.3, recency 0-0.3) put context at 0 and
    # dense at its top: this one goes on from there
    grid = {
        "dense": [1.5, 2.0, 3.0],
        "bridge": [0.6, 1.0],
        "speaker_weight": [0.1, 0.3],
        "recency": [0.1, 0.2],
    }
    rows = []
    for values in itertools.product(*grid.values()):
        st = replace(HybridSettings(), **dict(zip(grid, values, strict=True)))
        scorer.settings = st
        per: dict[str, list[bool]] = {}
        for it, n in zip(items, n_tok, strict=True):
            if it.context not in layouts:
                layouts[it.context] = scorer.layout(it.context, auto_shape(None, it.context), counter)
            lay = layouts[it.context]
            budget = tokens_at(args.rate, n)
            unit, rel = scorer.scores(lay, it.question)
            s = Scored(lay, unit, np.zeros(len(lay.words)), protected(lay.words, [], []), rel)
            s.word = scorer.word_values(lay, it.question, s.order(), budget)
            text = select_text(s, budget, None, counter.count)
            per.setdefault(f"{it.task}.{it.kind}", []).append(kept_checks(it, text)["evidence_kept"])
        means = {k: float(np.mean(v)) for k, v in sorted(per.items())}
        rows.append(
            {"settings": asdict(st), "objective": float(np.mean(list(means.values()))), "by_kind": means}
        )
        print(
            f"{values}: {rows[-1]['objective']:.3f} " + " ".join(f"{k}={v:.2f}" for k, v in means.items()),
            flush=True,
        )
    rows.sort(key=lambda r: -r["objective"])
    out = Path(__file__).parent / "results" / "tune.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rate": args.rate, "grid": grid, "rows": rows}, indent=1))
    print("best:", rows[0])


if __name__ == "__main__":
    main()
