"""How does a query-aware compressor's cost grow with a long history, cold and when the history grew by
one turn? The hybrid compressor, the selector with the hybrid first pass, today's selector and bm25,
side by side in one process, on the same inputs.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/compressor_latency/memory_bench.py \
        --selector outputs/runs/<a default run> [--reps 5]

Inputs: generated chat histories (`compress.algorithms.data.memory`, seed 7: none of the study's)
joined to about 1k, 4k, 16k, 25k and 64k tokens of the bundled Gemma's tokenizer, compressed to 5 % with a
question about them, on 2 torch threads. `cold`: a fresh compressor per repetition (models loaded, no
unit cached: a history seen for the first time); `grown`: the same question after the history grew by
one turn (the compressor has read the history before: what a chat pays per request). p50 and p95 of
the milliseconds per call, and per 1k tokens. Writes results/memory_bench.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.compressors.base import Compressor, Request, find_adapter, read_meta, tokens_at  # noqa: E402
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline  # noqa: E402
from compress.algorithms.data.memory import generate, render  # noqa: E402
from compress.algorithms.kinds.selector import SelectorMeta, load_selector  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.infra.models.bundled import default_cache  # noqa: E402

SIZES = (1000, 4000, 16000, 25000, 64000)
QUESTION = "Where did the person Ana reports to travel last spring?"
NEW_TURN = "\nAna: By the way, the new neighbours finally introduced themselves today."


def inputs(counter: TokenCounter) -> dict[int, str]:
    """A history of about each size (whole lines of generated histories, joined)."""
    lines = [ln for h in generate(6, 7, questions_per_kind=1) for ln in render(h)[0].splitlines()]
    out = {}
    for size in SIZES:
        lo, hi = 1, len(lines)
        while lo < hi:  # the fewest lines reaching the size
            mid = (lo + hi) // 2
            if counter.count("\n".join(lines[:mid])) >= size:
                hi = mid
            else:
                lo = mid + 1
        out[size] = "\n".join(lines[:lo])
    return out


def timed(fn: Callable[[], Any], reps: int) -> list[float]:
    """Milliseconds of each of `reps` calls."""
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(1000 * (time.perf_counter() - t0))
    return out


def main() -> None:
    """Run the bench and print its table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--selector", default="")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(2)
    cache = default_cache()
    counter = TokenCounter("bundled:gemma-3-270m", cache)
    texts = inputs(counter)
    makers: dict[str, Callable[[], Compressor]] = {
        "bm25": lambda: make_baseline("bm25", BaselineContext(cache)),
        "hybrid": lambda: make_baseline("hybrid", BaselineContext(cache)),
    }
    if args.selector:
        run = Path(args.selector)
        adapter = find_adapter(run)
        meta = SelectorMeta.model_validate(read_meta(adapter))
        tok_model = load_selector(adapter, meta, "cpu", cache)
        for name, first in (("selector", "encoder"), ("selector+hybrid", "hybrid")):
            m = meta.model_copy(update={"first_pass": first})
            makers[name] = lambda m=m: type(tok_model)(tok_model.tok, tok_model.model, m, "cpu", cache)
    rows = []
    for text in texts.values():
        n = counter.count(text)
        grown = text + NEW_TURN
        n_grown = counter.count(grown)
        for name, make in makers.items():
            make().compress_many([Request("warm up", 1, None, QUESTION)], counter)  # models loaded once

            def cold(make: Callable[[], Compressor] = make, text: str = text, n: int = n) -> None:
                make().compress_many([Request(text, tokens_at(0.05, n), None, QUESTION, tokens=n)], counter)

            ms_cold = timed(cold, args.reps)
            c = make()
            c.compress_many([Request(text, tokens_at(0.05, n), None, QUESTION, tokens=n)], counter)
            req = Request(grown, tokens_at(0.05, n_grown), None, QUESTION, tokens=n_grown)
            ms_grown = timed(lambda c=c, req=req: c.compress_many([req], counter), args.reps)
            for mode, ms in (("cold", ms_cold), ("grown by one turn", ms_grown)):
                p50 = statistics.median(ms)
                p95 = sorted(ms)[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
                rows.append(
                    {
                        "method": name,
                        "tokens": n,
                        "mode": mode,
                        "p50_ms": p50,
                        "p95_ms": p95,
                        "per_1k": p50 / (n / 1000),
                    }
                )
                print(
                    f"{name:16s} {n:6d} {mode:18s} p50 {p50:8.1f} ms  p95 {p95:8.1f}  {p50 / (n / 1000):6.1f} ms/1k",
                    flush=True,
                )
    out = Path(__file__).parent / "results" / "memory_bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"reps": args.reps, "question": QUESTION, "rows": rows}, indent=1))
    print(
        "\n| method | tokens | mode | p50 ms | p95 ms | p50 ms / 1k tokens | vs bm25 (p50) |\n|---|---:|---|---:|---:|---:|---:|"
    )
    base = {(r["tokens"], r["mode"]): r["p50_ms"] for r in rows if r["method"] == "bm25"}
    for r in rows:
        ratio = r["p50_ms"] / base[(r["tokens"], r["mode"])]
        print(
            f"| {r['method']} | {r['tokens']} | {r['mode']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['per_1k']:.1f} | {ratio:.1f}x |"
        )


if __name__ == "__main__":
    main()
