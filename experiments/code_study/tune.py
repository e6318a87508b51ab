"""Tune the code plan (`compress.algorithms.compressors.code.Plan`) and the code score weights on the
development split of the code tasks (modules no test case comes from), at 4x and 8x.

    .venv/bin/python experiments/code_study/tune.py            # writes results/tune.json

Each case's definitions are scored once per weight setting; the plans are then swept over those scores.
The objective: the mean of `function_kept` (every evidence definition kept whole) over both kinds and
both rates.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from compress.algorithms.compressors.base import tokens_at
from compress.algorithms.compressors.code import Plan, code_map, compress_code
from compress.algorithms.compressors.hybrid import HybridScorer, HybridSettings, UnitMemo
from compress.algorithms.data.code_tasks import code_hops, needle_functions
from compress.algorithms.metrics.code_task import kept_whole
from compress.export.package import DEFAULT_TARGET
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import default_cache

HERE = Path(__file__).parent
RATES = (0.25, 0.125)


def main() -> int:
    """Sweep weights and plans on the dev split; print and save the grid."""
    console = Console()
    cache = default_cache()
    counter = TokenCounter(DEFAULT_TARGET, cache)
    cases = needle_functions(150, 0, "dev") + code_hops(40, 0, "dev")
    maps = [code_map(c.context) for c in cases]
    starts = [counter.token_starts(c.context) for c in cases]
    n_tokens = [counter.count(c.context) for c in cases]
    rows = []
    plans = [
        Plan(full_share=f, sharpness=s, size_weight=g, gap=gap)
        for f, s, g, gap in itertools.product(
            (0.8, 0.9, 1.0), (0.5, 1.0, 2.0), (0.0, 0.5, 1.0), (3.0, 6.0, 99.0)
        )
    ]
    t0 = time.perf_counter()
    memo = UnitMemo()  # every embedding once, whatever the weights
    scored: dict[tuple[float, float], list[np.ndarray]] = {}
    # first the plans under the default weights, then the weights under the best plan
    stages = [[(0.5, 1.0, plan) for plan in plans], []]
    for stage in range(2):
        if stage == 1:
            best = max(rows, key=lambda r: r["objective"])
            plan = Plan(**{k: best[k] for k in Plan.__dataclass_fields__})
            stages[1] = [
                (lex, dense, plan) for lex, dense in ((0.0, 1.0), (1.0, 1.0), (0.5, 0.0), (0.25, 1.0))
            ]
        for lex, dense, plan in stages[stage]:
            if (lex, dense) not in scored:
                scorer = HybridScorer(cache, HybridSettings(code_lexical=lex, code_dense=dense), memo)
                scored[lex, dense] = [
                    scorer.code_scores(m, c.question) for m, c in zip(maps, cases, strict=True)
                ]
            scores = scored[lex, dense]
            kept: dict[float, list[bool]] = {r: [] for r in RATES}
            for c, m, sc, st, n in zip(cases, maps, scores, starts, n_tokens, strict=True):
                for r in RATES:
                    out = compress_code(m, sc, tokens_at(r, n), counter.count, st, None, plan)
                    kept[r].append(out is not None and all(kept_whole(e, out) for e in c.evidence))
            row = {
                "code_lexical": lex,
                "code_dense": dense,
                **dict(plan.__dict__),
                **{f"kept@{r}": float(np.mean(v)) for r, v in kept.items()},
            }
            row["objective"] = float(np.mean([row[f"kept@{r}"] for r in RATES]))
            rows.append(row)
            console.print(row, f"{time.perf_counter() - t0:.0f}s")
    rows.sort(key=lambda r: -r["objective"])
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "tune.json").write_text(json.dumps({"n_cases": len(cases), "grid": rows}, indent=1))
    console.print("best", rows[:3])
    return 0


if __name__ == "__main__":
    sys.exit(main())
