"""Seconds per sample and per 1k input tokens of the trained generative compressor under llama.cpp
(base GGUF + the adapter as a GGUF LoRA) and under transformers (PEFT on the dequantised copy).

    .venv/bin/python experiments/generative_engines/bench.py RUN_DIR [--n 8] [--cap 64] [--rounds 2]
        [--threads N]

RUN_DIR is a finished run (outputs/runs/<run>, e.g. from `python -m compress.run +experiment=smoke`).
Each engine runs in its own child process, the engines alternating over `--rounds` rounds, on the
same texts (the run's validated samples, every split) with the same token cap, greedy. Input tokens
are counted by the bundled model's own tokenizer, as the evaluate stage counts them. Writes results.json
(results-threadsN.json with --threads N) beside this file and prints the markdown table of README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

ENGINES = ("llama_cpp", "transformers")


def child(run_dir: Path, engine: str, n: int, cap: int) -> dict[str, Any]:
    """One engine: load it, compress the texts one by one, report load and per-sample seconds."""
    from datasets import load_from_disk

    from compress.algorithms.compressors.base import Request
    from compress.algorithms.kinds import load_adapter
    from compress.infra.llm.tokens import TokenCounter
    from compress.infra.models.bundled import default_cache

    cache = default_cache()
    texts = [r["original"] for r in load_from_disk(str(run_dir / "validate" / "validated"))][:n]
    counter = TokenCounter("local/gemma3-270m", cache)
    t0 = time.perf_counter()
    compressor = load_adapter(run_dir, cache, engine=engine)
    load_s = time.perf_counter() - t0
    cpu0 = time.process_time()
    samples = []
    for text in texts:
        (out,) = compressor.compress_many([Request(text, cap)], counter)
        samples.append(
            {
                "input_tokens": counter.count(text),
                "output_tokens": counter.count(out.text),
                "seconds": out.seconds,
                "text": out.text,
            }
        )
    cpu_s = time.process_time() - cpu0
    secs = sum(s["seconds"] for s in samples)
    return {
        "engine": getattr(compressor, "engine", engine),
        "load_s": load_s,
        "samples": samples,
        "s_per_sample": secs / len(samples),
        "s_per_1k_input_tokens": 1000 * secs / sum(s["input_tokens"] for s in samples),
        "output_tokens_per_s": sum(s["output_tokens"] for s in samples) / secs,
        "cpu_s": cpu_s,
        "load_avg_after": os.getloadavg()[0],
    }


def main() -> None:
    """Run every engine in a child process, alternating, and write results.json and the table."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--cap", type=int, default=64, help="tokens generated at most (the request's budget)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads of both engines (default: all)")
    ap.add_argument("--child", choices=ENGINES, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.run_dir, args.child, args.n, args.cap)))
        return
    env = dict(os.environ)
    if args.threads:
        # torch reads these; llama.cpp's thread count follows os.cpu_count() unless limited the same way
        env |= {"OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        for engine in ENGINES:
            cmd = [sys.executable, __file__, str(args.run_dir), "--child", engine, "--n", str(args.n)]
            cmd += ["--cap", str(args.cap)]
            if args.threads:
                cmd = ["taskset", "-c", ",".join(str(i) for i in range(args.threads)), *cmd]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1]) | {"round": r}
            rounds.append(res)
            print(
                f"round {r} {engine}: {res['s_per_sample']:.2f} s/sample, "
                f"{res['s_per_1k_input_tokens']:.2f} s/1k input tokens (load avg {res['load_avg_after']:.1f})",
                file=sys.stderr,
            )
    best = {e: min((x for x in rounds if x["engine"] == e), key=lambda x: x["s_per_sample"]) for e in ENGINES}
    same = sum(
        a["text"] == b["text"]
        for a, b in zip(best["llama_cpp"]["samples"], best["transformers"]["samples"], strict=True)
    )
    out = {
        "run_dir": str(args.run_dir),
        "n": args.n,
        "cap": args.cap,
        "threads": args.threads,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "identical_outputs": same,
        "rounds": rounds,
    }
    name = f"results-threads{args.threads}.json" if args.threads else "results.json"
    (Path(__file__).parent / name).write_text(json.dumps(out, indent=2))
    print("| engine | load s | s/sample | s per 1k input tokens | output tokens/s | CPU-s |")
    print("|---|---:|---:|---:|---:|---:|")
    for e, b in best.items():
        print(
            f"| {e} | {b['load_s']:.1f} | {b['s_per_sample']:.2f} | {b['s_per_1k_input_tokens']:.2f} "
            f"| {b['output_tokens_per_s']:.1f} | {b['cpu_s']:.1f} |"
        )
    speedup = best["transformers"]["s_per_sample"] / best["llama_cpp"]["s_per_sample"]
    print(f"\nllama.cpp is {speedup:.1f}x faster per sample; {same}/{args.n} outputs identical.")


if __name__ == "__main__":
    main()
