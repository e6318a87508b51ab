"""Calls/s of the LLM layer against a loopback OpenAI-compatible server that answers in 200 ms.

    .venv/bin/python experiments/llm_throughput/bench.py [--calls 48] [--delay 0.2]

Measures, side by side in one process: concurrency 1 vs 8 with no cache, then the same batch again
from a warm cache (zero calls reach the server). Writes results.md beside this file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from compress.infra.llm.client import ChatRequest, LLMSession, LLMSettings  # noqa: E402
from tests.support.openai_server import OpenAIServer, ServerState  # noqa: E402


def _batch(n: int, tag: str) -> list[ChatRequest]:
    return [
        ChatRequest(
            key=str(i),
            model="openai/bench",
            messages=[{"role": "user", "content": f"{tag} {i}"}],
            max_tokens=16,
        )
        for i in range(n)
    ]


def main() -> None:
    """Run the benchmark and write results.md."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=48)
    ap.add_argument("--delay", type=float, default=0.2)
    args = ap.parse_args()
    import os

    state = ServerState(delay_s=args.delay)
    rows = []
    with OpenAIServer(state) as srv, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            OPENAI_API_KEY="sk-bench-local", OPENAI_BASE_URL=srv.base_url, OPENAI_API_BASE=srv.base_url
        )
        for conc in (1, 8):
            cache = Path(tmp) / f"c{conc}.sqlite"
            for phase in ("cold", "warm"):
                session = LLMSession(
                    LLMSettings(
                        cache_path=cache,
                        concurrency={"openai": conc},
                        prices={"openai/bench": {"input_per_mtok": 0, "output_per_mtok": 0}},
                    )
                )
                before = state.requests
                t0 = time.perf_counter()
                session.run_many(_batch(args.calls, f"c{conc}"), label=f"c={conc} {phase}")
                dt = time.perf_counter() - t0
                rows.append((conc, phase, args.calls, state.requests - before, dt, args.calls / dt))
    lines = [
        f"# LLM layer throughput ({args.calls} calls, server answers in {args.delay * 1000:.0f} ms)",
        "",
        "| concurrency | cache | calls | reached server | seconds | calls/s |",
        "|---|---|---|---|---|---|",
        *[f"| {c} | {p} | {n} | {r} | {dt:.2f} | {cps:.1f} |" for c, p, n, r, dt, cps in rows],
        "",
        "cold = empty cache (every call reaches the server); warm = the same batch again from the disk cache.",
    ]
    text = "\n".join(lines)
    (Path(__file__).parent / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
