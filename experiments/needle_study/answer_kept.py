"""How often does each method's compressed context still hold the answer? The needle study's reader
(Gemma 3 270M) answers only a third of the questions even from the full context, so its accuracy cannot
tell two compressors apart above that ceiling; whether the answer string survives compression can.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/needle_study/answer_kept.py \
        outputs/needle_study/runs/<the selector's needle run>

Rebuilds the run's needle questions exactly as its evaluate stage did (same held-out texts, k, seed),
compresses each context with every method at the run's task rates (0.5 and 0.25) (the question as the query, budgets by
the target model's tokenizer), and counts the questions whose answer still stands in the compressed
context (whitespace-normalised substring), overall and by the answer's position, with paired 95%
bootstrap intervals of the trained compressor against each method. No LLM call. Writes
results/answer_kept.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from datasets import load_from_disk
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.compressors.base import Compressor  # noqa: E402
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline  # noqa: E402
from compress.algorithms.kinds import load_adapter  # noqa: E402
from compress.algorithms.metrics.gold_runner import _contexts  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.stages.evaluate import _gold_items  # noqa: E402

BOOT = 10_000


@dataclass
class Row:
    """One method at one rate: the share of questions whose answer survived, overall and by position."""

    method: str
    rate: float | None
    n: int
    answer_kept: float
    by_position: list[float]
    trained_minus: tuple[float, float, float] | None


def _flat(text: str) -> str:
    return " ".join(text.split())


def paired_ci(a: np.ndarray, b: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b with a 95% bootstrap interval over items."""
    d = a.astype(float) - b.astype(float)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(BOOT, len(d)))].mean(axis=1)
    return float(d.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    """Answer kept by every method of the run's needle task, side by side."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="the selector's needle run (its evaluate.tasks held needle)")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "answer_kept.json")
    args = ap.parse_args()
    cfg = OmegaConf.load(args.run / ".hydra" / "config.yaml")
    ev, seed = cfg.evaluate, int(cfg.seed)
    cache = Path(
        str(OmegaConf.select(cfg, "paths.cache", default=None) or Path.home() / ".cache" / "compress")
    )
    pairs = load_from_disk(str(args.run / "generate" / "pairs"))
    every = [r for r in pairs if r["split"] == str(ev.split)]
    # the questions exactly as the run's evaluate stage built them
    items = [it for it in _gold_items(ev, every, seed) if it.task == "needle"]
    counter = TokenCounter(str(cfg.validation.models[0]), cache)
    bctx = BaselineContext(cache, seed=seed, scored_texts=None)
    methods: dict[str, Compressor] = {
        "trained": load_adapter(args.run, cache),
        **{m: make_baseline(m, bctx) for m in ev.baselines if m != "identity"},
        **{n: load_adapter(Path(str(r)), cache) for n, r in ev.compare_runs.items()},
    }
    contexts = _contexts(items, methods, [float(r) for r in ev.task_rates], counter, None)
    answers = [_flat(it.answers[0]) for it in items]
    positions = np.array([it.position for it in items])
    n_pos = int(positions.max()) + 1
    kept = {
        (m, r): np.array([a in _flat(c) for a, c in zip(answers, ctxs, strict=True)])
        for (m, r), ctxs in contexts.items()
    }
    rows: list[Row] = []
    for (m, r), k in sorted(kept.items(), key=lambda kv: (-(kv[0][1] or 0.0), list(methods).index(kv[0][0]))):
        rows.append(
            Row(
                m,
                r,
                len(k),
                float(k.mean()),
                [float(k[positions == p].mean()) for p in range(n_pos)],
                None if m == "trained" else paired_ci(kept[("trained", r)], k),
            )
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"run": str(args.run), "tokenizer": counter.name, "rows": [asdict(row) for row in rows]}
    args.out.write_text(json.dumps(doc, indent=2))
    print(
        f"tokenizer: {counter.name}; n = {len(items)} questions; answer-bearing text at positions 1..{n_pos}"
    )
    print("| rate | method | answer kept | by position | trained - method [95% CI] |")
    print("|---|---|---:|---|---|")
    for row in rows:
        d = row.trained_minus
        ci = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]" if d else ""
        pos = " ".join(f"{x:.2f}" for x in row.by_position)
        print(f"| {row.rate} | {row.method} | {row.answer_kept:.3f} | {pos} | {ci} |")


if __name__ == "__main__":
    main()
