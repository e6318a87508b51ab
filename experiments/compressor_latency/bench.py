"""Compressor latency per 1k input tokens, side by side in one run: the unit selector (with and without a
question), the bm25 baseline, the token classifier (default and fast variants), the selfinfo method
and the generative kind (llama.cpp engine), on 2 CPU threads.

    .venv/bin/python experiments/compressor_latency/bench.py [--selector RUN_DIR] [--generative RUN_DIR]
        [--classifier RUN_DIR] [--classifier-fast RUN_DIR] [--sizes 256 1024 4096 16384] [--reps 7]
        [--threads 2] [--methods selector selector_noquery bm25 selfinfo ...]

The question (selector, bm25): a quote from the middle of each input, asked as the needle task asks
(`compress.algorithms.metrics.cloze.question`); `selector_noquery` gets none. `--selector RUN_DIR`: a run trained
with `compressor=selector` (required for the selector methods).

Inputs: the standard library's docstrings joined and cut to about 256, 1k, 4k and 16k tokens of the
bundled model's tokenizer (the evaluate stage's target counter), each compressed to half its tokens.
Each method runs in its own child process (pinned to `--threads` cores, torch limited to as many
threads), one method after the other in one run over the same inputs (not interleaved: selfinfo
alone holds about 10 GB, so the children do not live side by side); the machine's load average is
recorded before and after each. Per
input size: p50 / p95 seconds over `--reps` repetitions (selfinfo fewer at 16k, generative fewer and
only up to 1k: see the README), divided by the input's thousands of tokens; peak RSS of each child.

`--classifier RUN_DIR` times a trained classifier (its adapter, as trained, and, unless
`--classifier-fast RUN_DIR` gives a run trained with `compressor=classifier_fast`, a fast copy: its
first 2 layers, int8); without it, the bundled MiniLM-L6 with an untrained 2-label head (latency does not
depend on the weights' values). `--generative RUN_DIR`: a run with a generative adapter (e.g. a
`+experiment=smoke` run); without it the newest one under outputs/runs/.
Writes results.json beside this file and prints the README's table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

METHODS = ("selector", "selector_noquery", "bm25", "classifier", "classifier_fast", "selfinfo", "generative")


def question_for(text: str) -> str:
    """A question about the middle of `text`: the quote-continuation question of its middle fact."""
    from compress.algorithms.metrics.cloze import cloze_items, question

    items = cloze_items("bench", text, 3)
    if not items:
        return "What does the text say?"
    return question(items[len(items) // 2])


def _cache() -> Path:
    return Path(os.environ.get("COMPRESS_CACHE", Path.home() / ".cache" / "compress"))


def inputs(sizes: list[int]) -> list[str]:
    """Stdlib docstrings joined and cut to each size in the bundled model's tokens."""
    import importlib
    import inspect
    import pkgutil

    from compress.infra.llm.tokens import TokenCounter

    docs: list[str] = []
    for m in sorted(pkgutil.iter_modules(), key=lambda m: m.name):
        if m.name.startswith("_") or m.name in {"antigravity", "this", "idlelib", "tkinter", "turtle"}:
            continue
        try:
            mod = importlib.import_module(m.name)
        except Exception:  # a module that does not import here
            continue
        doc = inspect.getdoc(mod)
        if doc and len(doc) > 200:
            docs.append(doc)
        if sum(len(d) for d in docs) > 6 * max(sizes) * 2:
            break
    text = "\n\n".join(docs)
    counter = TokenCounter("local/gemma3-270m", _cache())
    return [counter.truncate(text, n) for n in sizes]


def _classifier_dir(run: Path | None, fast: bool, tmp: Path, args_fast: Path | None = None) -> Path:
    """A classifier adapter: the trained one (as trained / a fast copy), or an untrained head."""
    from compress.algorithms.compressors.base import META_FILE
    from compress.algorithms.compressors.encoder import BUNDLED_ENCODER, load_encoder

    if run is not None and not fast:
        return run / "train" / "adapter"
    if fast and args_fast is not None:
        return args_fast / "train" / "adapter"
    out = tmp / ("fast" if fast else "default")
    meta: dict[str, Any] = {
        "kind": "classifier",
        "encoder": BUNDLED_ENCODER,
        "max_length": 512,
        "overlap": 64,
        "protect": ["numbers", "identifiers"],
        "rate": 0.5,
        "query_aware": True,
        "inference_batch": 16,
        "tokens_model": "local/gemma3-270m",
    }
    if run is not None:
        meta = json.loads((run / "train" / "adapter" / META_FILE).read_text())
    meta |= {"encoder_layers": 2 if fast else None, "quantize": "int8" if fast else "none"}
    if run is not None:  # the trained weights' first 2 layers
        from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

        src = run / "train" / "adapter"
        config = AutoConfig.from_pretrained(str(src))
        config.num_hidden_layers = 2
        model = AutoModelForTokenClassification.from_pretrained(str(src), config=config)
        tok = AutoTokenizer.from_pretrained(str(src))
    else:
        tok, model = load_encoder(BUNDLED_ENCODER, 2 if fast else None)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    (out / META_FILE).write_text(json.dumps(meta))
    return out


def child(method: str, texts: list[str], reps: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """Load one method, compress every input `reps[i]` times, report seconds and peak memory."""
    import torch

    from compress.algorithms.compressors.base import Request
    from compress.algorithms.compressors.baselines import BaselineContext, make_baseline
    from compress.algorithms.kinds import load_adapter
    from compress.infra.llm.tokens import TokenCounter

    torch.set_num_threads(args.threads)
    cache = _cache()
    counter = TokenCounter("local/gemma3-270m", cache)
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="latency-"))
    if method.startswith("selector"):
        adapter = args.selector / "train" / "adapter" if (args.selector / "train").is_dir() else args.selector
        comp: Any = load_adapter(adapter, cache)
    elif method == "bm25":
        comp = make_baseline("bm25", BaselineContext(cache))
    elif method.startswith("classifier"):
        adapter = _classifier_dir(args.classifier, method == "classifier_fast", tmp, args.classifier_fast)
        comp = load_adapter(adapter, cache)
    elif method == "selfinfo":
        comp = make_baseline("selfinfo", BaselineContext(cache))
    else:
        comp = load_adapter(args.generative, cache, engine="llama_cpp")
    load_s = time.perf_counter() - t0
    rows = []
    for text, n_reps in zip(texts, reps, strict=True):
        n = counter.count(text)
        budget = max(1, n // 2)
        query = question_for(text) if method in ("selector", "bm25") else None
        secs: list[float] = []
        out_tokens = 0
        for _ in range(n_reps):
            if method == "selfinfo":
                comp._scored.clear()  # every repetition pays for its scoring, as one call would
            t = time.perf_counter()
            (res,) = comp.compress_many([Request(text, budget, query=query)], counter)
            secs.append(time.perf_counter() - t)
            out_tokens = counter.count(res.text)
        rows.append({"input_tokens": n, "budget": budget, "output_tokens": out_tokens, "seconds": secs})
    return {"method": method, "load_s": load_s, "rows": rows, "peak_rss_mb": peak_rss_kb() / 1024}


def peak_rss_kb() -> int:
    """This process's peak resident memory: VmHWM, which starts afresh at exec (getrusage's
    ru_maxrss keeps the forking parent's peak across exec, so every child would report at least that)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _pct(xs: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(xs, q)) if xs else float("nan")


def main() -> None:
    """Run each method in a child process over the same inputs; write results.json and the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--selector", type=Path, default=None)
    ap.add_argument("--generative", type=Path, default=None)
    ap.add_argument("--classifier", type=Path, default=None)
    ap.add_argument("--classifier-fast", type=Path, default=None)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 4096, 16384])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--texts", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--reps-list", type=str, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        texts = json.loads(args.texts.read_text())
        reps = [int(x) for x in args.reps_list.split(",")]
        print(json.dumps(child(args.child, texts, reps, args)))
        return
    if any(m.startswith("selector") for m in args.methods) and args.selector is None:
        raise SystemExit("the selector methods need --selector RUN_DIR (a run with compressor=selector)")
    if "generative" in args.methods and args.generative is None:
        runs = sorted(
            p.parents[1]
            for p in (ROOT / "outputs" / "runs").glob("*/train/adapter/compressor.json")
            if json.loads(p.read_text()).get("kind", "generative") == "generative"
        )
        if not runs:
            raise SystemExit(
                "no generative run under outputs/runs: run `+experiment=smoke` or pass --generative"
            )
        args.generative = runs[-1]
    texts = inputs(args.sizes)
    tmp = Path(tempfile.mkdtemp(prefix="latency-inputs-"))
    (tmp / "texts.json").write_text(json.dumps(texts))
    env = dict(os.environ) | {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    results = []
    for method in args.methods:
        # the generative kind decodes every output token (seconds each at 1k): a few short inputs only;
        # llama.cpp's context (8192) holds no 16k input. selfinfo at 16k: one forward pass of minutes.
        if method == "generative":
            reps = [2 if n <= 1024 else 0 for n in args.sizes]
        elif method == "selfinfo":
            reps = [args.reps if n <= 4096 else 2 for n in args.sizes]
        else:
            reps = [args.reps] * len(args.sizes)
        keep = [i for i, r in enumerate(reps) if r > 0]
        sub = [texts[i] for i in keep]
        (tmp / f"{method}.json").write_text(json.dumps(sub))
        cmd = [sys.executable, __file__, "--child", method, "--texts", str(tmp / f"{method}.json")]
        cmd += ["--reps-list", ",".join(str(reps[i]) for i in keep), "--threads", str(args.threads)]
        if args.generative:
            cmd += ["--generative", str(args.generative)]
        if args.selector:
            cmd += ["--selector", str(args.selector)]
        if args.classifier:
            cmd += ["--classifier", str(args.classifier)]
        if args.classifier_fast:
            cmd += ["--classifier-fast", str(args.classifier_fast)]
        cmd = ["taskset", "-c", ",".join(str(i) for i in range(args.threads)), *cmd]
        t0, load_before = time.perf_counter(), os.getloadavg()[0]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            why = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
            print(f"{method} failed ({why}):\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["wall_s"] = time.perf_counter() - t0
        res["load_avg_1min"] = [load_before, os.getloadavg()[0]]
        results.append(res)
        print(f"{method}: done in {res['wall_s']:.0f} s, peak {res['peak_rss_mb']:.0f} MB", file=sys.stderr)
    out = {
        "sizes": args.sizes,
        "threads": args.threads,
        "selector_run": str(args.selector) if args.selector else None,
        "classifier_run": str(args.classifier) if args.classifier else None,
        "classifier_fast_run": str(args.classifier_fast) if args.classifier_fast else None,
        "generative_run": str(args.generative) if args.generative else None,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": os.getloadavg()},
        "results": results,
    }
    (Path(__file__).parent / "results.json").write_text(json.dumps(out, indent=2))
    print(table(out))


def table(out: dict[str, Any]) -> str:
    """The markdown table: per method and input size, p50 / p95 ms per 1k input tokens; peak memory."""
    lines = [
        "| method | input tokens | reps | p50 ms / 1k tokens | p95 ms / 1k tokens | output tokens | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    per1k: dict[tuple[str, int], float] = {}
    for res in out["results"]:
        for row in res["rows"]:
            k = row["input_tokens"] / 1000
            p50, p95 = _pct(row["seconds"], 50) / k * 1000, _pct(row["seconds"], 95) / k * 1000
            per1k[(res["method"], row["input_tokens"])] = p50
            lines.append(
                f"| {res['method']} | {row['input_tokens']} | {len(row['seconds'])} | {p50:.1f} | {p95:.1f} "
                f"| {row['output_tokens']} | {res['peak_rss_mb']:.0f} |"
            )
    lines.append("")
    loads = [
        f"{r['method']} {r['load_avg_1min'][0]:.1f} -> {r['load_avg_1min'][1]:.1f}"
        for r in out["results"]
        if "load_avg_1min" in r
    ]
    if loads:
        lines += ["- load average (1 min) before -> after each method: " + ", ".join(loads), ""]
    sizes = sorted({n for _, n in per1k})
    for base in ("selfinfo", "generative"):
        for fast in ("selector", "selector_noquery", "classifier", "classifier_fast"):
            ratios = [
                f"{n}: {per1k[(base, n)] / per1k[(fast, n)]:.0f}x"
                for n in sizes
                if (base, n) in per1k and (fast, n) in per1k
            ]
            if ratios:
                lines.append(f"- {fast} vs {base} (p50 per 1k tokens): " + ", ".join(ratios))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
