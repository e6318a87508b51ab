"""Bounded loopback load test of `compress serve`: /v1/compress under 8 and 32 concurrent clients,
and the proxy's overhead against calling the provider directly, side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/serve_load/load.py [--trained RUN_OR_PACKAGE]
        [--clients 8 32] [--duration 60] [--trained-duration 60] [--proxy-duration 30] [--rounds 2]
        [--workers process thread] [--out experiments/serve_load/results.json]

Each server is a real `python -m compress.serve SPEC --no-access-log` process on a free loopback
port, waited on until /readyz says ready (so no request is a loading passthrough). Each client
loops POST /v1/compress {"text": ..., "rate": 0.5} over the same texts (docstrings of the standard
library, 60-200 words) until the duration ends; requests in flight then finish, so the test stops
(bounded) and every request counts. A failed request is any transport error or non-200 answer.

Proxy overhead: the loopback OpenAI-compatible provider runs as its own process
(`python -m tests.support.openai_server`); 8 clients call it directly, through the proxy with
nothing to compress (a short question), and through the proxy with a long message compressed by
`truncate`, alternating over `--rounds` rounds so the machine's noise falls on all three alike.
Writes results.json and prints the markdown tables of README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import inspect
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.support.serve import ServeProcess  # noqa: E402

HERE = Path(__file__).resolve().parent
PROXY_MODEL = "openai/test-model"


def texts() -> list[str]:
    """Prose of 60-200 words from the standard library's docstrings (the same on every machine with this Python)."""
    out = []
    for obj in (
        json.dumps,
        json.loads,
        textwrap.wrap,
        textwrap.dedent,
        collections.Counter,
        collections.OrderedDict,
        argparse.ArgumentParser.add_argument,
        inspect.signature,
        inspect.getsource,
        subprocess.run,
    ):
        doc = " ".join((inspect.getdoc(obj) or "").split())
        words = doc.split()
        if len(words) >= 60:
            out.append(" ".join(words[:200]))
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


async def drive(
    url: str,
    path: str,
    body: Callable[[int], dict[str, Any]],
    clients: int,
    duration: float,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`clients` loops posting `body(k)` to `url + path` until `duration` seconds have passed; the figures."""
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    stop_at = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=900, limits=limits, headers=headers) as client:

        async def one(i: int) -> None:
            k = i
            while time.monotonic() < stop_at:
                payload = body(k)
                k += clients
                t0 = time.perf_counter()
                try:
                    r = await client.post(path, json=payload)
                except httpx.HTTPError as exc:
                    failures[type(exc).__name__] += 1
                    continue
                if r.status_code != 200:
                    failures[str(r.status_code)] += 1
                    continue
                latencies.append(time.perf_counter() - t0)
                data = r.json()
                statuses[str(data.get("status") or r.headers.get("x-compress-status") or "ok")] += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(clients)))
        wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "duration_s": duration,
        "wall_s": round(wall, 2),
        "requests": len(latencies),
        "failed": sum(failures.values()),
        "failures": dict(failures),
        "statuses": dict(statuses),
        "rps": round(len(latencies) / wall, 2),
        "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
        "max_ms": round(max(latencies, default=float("nan")) * 1000, 2),
    }


def start_server(
    spec: str, name: str, env: dict[str, str], worker: str, tmp: Path
) -> tuple[ServeProcess, dict[str, Any]]:
    """A server for `spec`, ready."""
    config = tmp / "proxy.yaml"
    config.write_text(
        "proxy: {min_chars: 500, rate: 0.5}\nllm: {max_retries: 2, base_delay_s: 0.2, timeout_s: 120}\n"
    )
    server = ServeProcess(
        spec,
        tmp / f"{name}.log",
        "--no-access-log",
        "--log-level",
        "warning",
        "--worker",
        worker,
        "--config",
        str(config),
        env=env,
    )
    up_s = server.wait_up()
    t0 = time.monotonic()
    info = server.wait_ready(900)
    return server, {
        "port_answers_s": round(up_s, 2),
        "ready_s": round(up_s + time.monotonic() - t0, 2),
        "compressor": info.get("compressor"),
        "worker": worker,
    }


def compress_runs(
    spec: str,
    name: str,
    env: dict[str, str],
    worker: str,
    clients: list[int],
    duration: float,
    tmp: Path,
    pool: list[str],
) -> dict[str, Any]:
    """/v1/compress with `spec` at each concurrency."""
    server, info = start_server(spec, name, env, worker, tmp)
    try:
        runs = []
        for n in clients:
            load0 = os.getloadavg()[0]
            run = asyncio.run(
                drive(
                    server.url,
                    "/v1/compress",
                    lambda k: {"text": pool[k % len(pool)], "rate": 0.5},
                    n,
                    duration,
                )
            )
            run["load_avg_1m"] = [round(load0, 2), round(os.getloadavg()[0], 2)]
            print(f"  {name} {worker} x{n}: {run}", flush=True)
            runs.append(run)
    finally:
        server.stop()
    return info | {"spec": spec, "runs": runs}


def proxy_runs(
    env: dict[str, str], upstream: str, duration: float, rounds: int, tmp: Path, long: str
) -> dict[str, Any]:
    """Direct vs through the proxy (nothing to compress; one long message compressed by truncate)."""
    server, info = start_server("truncate", "proxy", env, "process", tmp)
    short = [{"role": "user", "content": "What does json.dumps return?"}]
    compressed = [{"role": "user", "content": long}, {"role": "assistant", "content": "Noted."}, *short]
    modes: dict[str, tuple[str, str, list[dict[str, str]]]] = {
        "direct to the provider": (upstream, "/chat/completions", short),
        "proxy, nothing to compress": (server.url, "/v1/chat/completions", short),
        "proxy + truncate (one long message)": (server.url, "/v1/chat/completions", compressed),
    }
    per_round = duration / rounds
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
    try:
        for _ in range(rounds):
            for mode, (url, path, messages) in modes.items():
                body = {"model": "test-model" if url == upstream else PROXY_MODEL, "messages": messages}
                run = asyncio.run(drive(url, path, lambda k, b=body: b, 8, per_round))
                print(f"  proxy: {mode}: {run}", flush=True)
                results[mode].append(run)
    finally:
        server.stop()
    merged = {}
    for mode, runs in results.items():
        merged[mode] = {
            "rounds": runs,
            "requests": sum(r["requests"] for r in runs),
            "failed": sum(r["failed"] for r in runs),
            "rps": round(statistics.mean(r["rps"] for r in runs), 2),
            "p50_ms": round(statistics.median(r["p50_ms"] for r in runs), 2),
            "p95_ms": round(statistics.median(r["p95_ms"] for r in runs), 2),
        }
    return info | {"clients": 8, "modes": merged}


def table(results: dict[str, Any]) -> str:
    """The markdown tables of README.md."""
    lines = [
        "| compressor | worker | clients | requests | failed | req/s | p50 ms | p95 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in results["compress"]:
        for r in c["runs"]:
            lines.append(
                f"| {c['name']} | {c['worker']} | {r['clients']} | {r['requests']} | {r['failed']} | {r['rps']} "
                f"| {r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} |"
            )
    p = results.get("proxy")
    if p:
        lines += [
            "",
            "| 8 clients | requests | failed | req/s | p50 ms | p95 ms |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for mode, m in p["modes"].items():
            lines.append(
                f"| {mode} | {m['requests']} | {m['failed']} | {m['rps']} | {m['p50_ms']} | {m['p95_ms']} |"
            )
    return "\n".join(lines)


def trained_kind(spec: Path) -> str:
    """The compressor kind of a run dir (train/adapter/compressor.json) or a package (manifest.json)."""
    for meta in (spec / "manifest.json", spec / "train" / "adapter" / "compressor.json"):
        if meta.is_file():
            return str(json.loads(meta.read_text()).get("kind", "generative"))
    raise SystemExit(f"--trained {spec}: neither a package (manifest.json) nor a trained run (train/adapter)")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "--trained",
        nargs="*",
        default=[],
        help="run dirs or packages: trained compressors (a generative one under llama.cpp)",
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per concurrency (truncate)")
    parser.add_argument(
        "--trained-words", type=int, default=60, help="words per text for a generative compressor"
    )
    parser.add_argument(
        "--trained-duration", type=float, default=60.0, help="seconds per concurrency (trained)"
    )
    parser.add_argument(
        "--proxy-duration", type=float, default=30.0, help="seconds per proxy mode, all rounds"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", nargs="+", default=["process", "thread"], help="for truncate")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    args = parser.parse_args()

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"serve_load_{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    upstream_proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.openai_server"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert upstream_proc.stdout is not None
    upstream = upstream_proc.stdout.readline().strip()
    env = {
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "OPENAI_API_KEY": "sk-loopback-benchmark-0000",
        "OPENAI_BASE_URL": upstream,
        "OPENAI_API_BASE": upstream,
    }
    pool = texts()
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "texts": len(pool),
        "words_per_text": [len(t.split()) for t in pool],
        "compress": [],
    }
    try:
        for worker in args.workers:
            print(f"truncate ({worker})", flush=True)
            run = compress_runs("truncate", "truncate", env, worker, args.clients, args.duration, tmp, pool)
            results["compress"].append(run | {"name": "truncate"})
        for i, spec in enumerate(args.trained):
            kind = trained_kind(Path(spec))
            print(f"trained {kind} ({spec})", flush=True)
            # a generative one writes its output a token at a time: shorter texts keep a 32-client
            # queue draining in minutes; a classifier takes the same texts as truncate
            use = [" ".join(t.split()[: args.trained_words]) for t in pool] if kind == "generative" else pool
            run = compress_runs(
                spec, f"trained{i}", env, "process", args.clients, args.trained_duration, tmp, use
            )
            run["words_per_text"] = [len(t.split()) for t in use]
            name = (run["compressor"] or {}).get("name")
            results["compress"].append(run | {"name": f"trained {kind} ({name})"})
        print("proxy", flush=True)
        results["proxy"] = proxy_runs(env, upstream, args.proxy_duration, args.rounds, tmp, " ".join(pool))
    finally:
        upstream_proc.terminate()
        upstream_proc.wait(10)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
