"""Which compressor keeps the function a question is about? One run, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/code_study/study.py \
        --selector outputs/runs/<a default run> [--split test] [--n 200]

Every method compresses the same real standard-library modules (this machine's Python; 2k-25k tokens by
the bundled Gemma 3 270M's own tokenizer) with the question as the query, at 4x and 8x:

- `selector+code`: the trained selector as the default run saves it (the hybrid first pass), with the
  code path (`compress.algorithms.compressors.code`: definitions whole by relevance, a skeleton of the
  rest, callees along);
- `hybrid+code`: the same code path with no trained model;
- `bm25+code`: the code path with BM25 per definition;
- `selector` (today's: statements scored one by one), `bm25` (today's: statements), `truncate`.

Tasks (`compress.algorithms.data.code_tasks`): `code_needle` (a function described by its docstring's
first sentence, the docstring removed) and `code_qa` (which exception a named function raises through
the helper it calls: two definitions needed). Graded with no model: every evidence definition kept whole
(`function_kept`), its `def` line, the output parses, the imports it uses kept; paired 95 % bootstrap
intervals of each method against today's bm25 on the same items. The dev split (the modules
experiments/code_study/tune.py tuned on) is never reported.

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

from compress.algorithms.compressors.base import Compressor, Request, read_meta, tokens_at  # noqa: E402
from compress.algorithms.compressors.baselines import BM25, BaselineContext, make_baseline  # noqa: E402
from compress.algorithms.data.code_tasks import code_hops, needle_functions  # noqa: E402
from compress.algorithms.data.domains import default_domains  # noqa: E402
from compress.algorithms.kinds.selector import SelectorMeta, load_selector  # noqa: E402
from compress.algorithms.metrics.code_task import code_checks, code_items  # noqa: E402
from compress.algorithms.metrics.gold import GoldItem  # noqa: E402
from compress.algorithms.metrics.stats import paired_bootstrap, wilson  # noqa: E402
from compress.export.package import DEFAULT_TARGET  # noqa: E402
from compress.infra.llm.tokens import TokenCounter  # noqa: E402
from compress.infra.models.bundled import default_cache  # noqa: E402

CHECKS = ("function_kept", "def_kept", "parses", "imports_kept")
ORDER = ["selector+code", "hybrid+code", "bm25+code", "selector", "bm25", "truncate"]


def methods_of(args: argparse.Namespace, cache: Path) -> dict[str, Compressor]:
    """Every method of the study by name."""
    ctx = BaselineContext(cache)
    out: dict[str, Compressor] = {
        "hybrid+code": make_baseline("hybrid", ctx),
        "bm25+code": BM25(ctx),
        "bm25": BM25(ctx, structure=False),
        "truncate": make_baseline("truncate", ctx),
    }
    if args.selector:
        adapter = Path(args.selector)
        adapter = next(
            (a for a in (adapter / "train" / "adapter", adapter / "adapter") if a.is_dir()), adapter
        )
        meta = SelectorMeta.model_validate(read_meta(adapter))
        out["selector+code"] = load_selector(adapter, meta, "cpu", cache)
        today = load_selector(adapter, meta, "cpu", cache)
        today.code_structure = False
        out["selector"] = today
    keep = args.methods.split(",") if args.methods else list(out)
    return {m: out[m] for m in ORDER if m in out and m in keep}


def run_task(
    items: list[GoldItem], methods: dict[str, Compressor], rates: list[float], counter: TokenCounter
) -> dict[str, Any]:
    """Every method at every rate on every item: the checks per item and the milliseconds per 1k tokens."""
    code = default_domains()["code"]
    n_tok = [counter.count(it.context) for it in items]
    out: dict[str, Any] = {"n": len(items), "kinds": [it.kind for it in items], "tokens": n_tok, "runs": {}}
    for rate in rates:
        for name, m in methods.items():
            t0 = time.perf_counter()
            checks = []
            for it, n in zip(items, n_tok, strict=True):
                req = Request(it.context, tokens_at(rate, n), code, it.question, tokens=n)
                (c,) = m.compress_many([req], counter)
                checks.append(code_checks(it, c.text) | {"within": counter.count(c.text) <= req.budget})
            secs = time.perf_counter() - t0
            out["runs"][f"{name}@{rate:g}"] = {
                "checks": checks,
                "ms_per_1k": 1000 * secs / (sum(n_tok) / 1000),
            }
            kept = np.mean([c["function_kept"] for c in checks])
            print(f"  {name}@{rate:g}: function kept {kept:.3f} ({secs:.0f} s)", flush=True)
    return out


def table(task: str, res: dict[str, Any], check: str) -> list[str]:
    """Markdown: per method and rate, the share passing `check`, by kind, and against today's bm25 with
    its paired 95 % interval."""
    kinds = sorted(set(res["kinds"]))
    lines = [
        f"\n**{task}: {check}** (n = {res['n']})\n",
        "| method | rate | all [95% CI] | vs bm25 [paired 95% CI] | "
        + "".join(f"{k} | " for k in kinds)
        + "within budget | ms / 1k tokens |",
        "|---|---|---|---|" + "---|" * len(kinds) + "---|---|",
    ]
    keys = sorted(
        res["runs"],
        key=lambda k: (-float(k.rsplit("@", 1)[1]), ORDER.index(k.rsplit("@", 1)[0])),
    )
    for key in keys:
        run = res["runs"][key]
        name, rate = key.rsplit("@", 1)
        got = np.asarray([c[check] for c in run["checks"]], dtype=float)
        lo, hi = wilson(int(got.sum()), len(got))
        base = res["runs"].get(f"bm25@{rate}")
        vs = ""
        if base is not None and name != "bm25":
            b = np.asarray([c[check] for c in base["checks"]], dtype=float)
            dlo, dhi = paired_bootstrap(list(b), list(got), seed=0)
            vs = f"{got.mean() - b.mean():+.3f} [{dlo:+.3f}, {dhi:+.3f}]"
        per = defaultdict(list)
        for k, g in zip(res["kinds"], got, strict=True):
            per[k].append(g)
        cells = "".join(f"{np.mean(per[k]):.2f} | " for k in kinds)
        within = np.mean([c["within"] for c in run["checks"]])
        lines.append(
            f"| {name} | {rate} ({1 / float(rate):.0f}x) | {got.mean():.3f} [{lo:.2f}, {hi:.2f}] | {vs} | "
            f"{cells}{within:.2f} | {run['ms_per_1k']:.0f} |"
        )
    return lines


def print_tables(results: dict[str, Any]) -> None:
    """Every task's tables: function kept, then def kept, parses, imports kept."""
    for task, res in results["tasks"].items():
        for check in CHECKS:
            print("\n".join(table(task, res, check)))


def main() -> None:
    """Run the study and print its tables."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--n", type=int, default=200, help="cases per task")
    ap.add_argument("--rates", default="0.25,0.125")
    ap.add_argument("--methods", default="")
    ap.add_argument("--selector", default="")
    ap.add_argument("--out", default="")
    ap.add_argument("--tables", default="", help="print the tables of this results file")
    ap.add_argument(
        "--update",
        action="store_true",
        help="rerun only --methods, keeping the other runs of the results file",
    )
    args = ap.parse_args()
    if args.tables:
        print_tables(json.loads(Path(args.tables).read_text()))
        return
    cache = default_cache()
    counter = TokenCounter(DEFAULT_TARGET, cache)
    methods = methods_of(args, cache)
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[str, Any] = {
        "split": args.split,
        "rates": rates,
        "tokenizer": counter.name,
        "python": sys.version.split()[0],
        "tasks": {},
    }
    tasks = {
        "code_needle": code_items("code_needle", needle_functions(args.n, 0, args.split)),
        "code_qa": code_items("code_qa", code_hops(args.n, 0, args.split)),
    }
    for task, items in tasks.items():
        print(f"{task}: {len(items)} items", flush=True)
        results["tasks"][task] = run_task(items, methods, rates, counter)
    out = Path(args.out) if args.out else Path(__file__).parent / "results" / f"{args.split}.json"
    if args.update and out.is_file():  # the same items: the runs not rerun stay as they were
        before = json.loads(out.read_text())
        for task, res in results["tasks"].items():
            assert before["tasks"][task]["tokens"] == res["tokens"], "not the same items"
            before["tasks"][task]["runs"].update(res["runs"])
        results = before
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results))
    print_tables(results)


if __name__ == "__main__":
    main()
