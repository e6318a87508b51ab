"""Loading what the train stage wrote: the adapter's metadata names the backend that loads it."""

from __future__ import annotations

from pathlib import Path

from compress.backends import get_backend
from compress.compressors.base import Compressor
from compress.compressors.generative import read_meta


def load_trained(
    adapter_dir: Path, cache_dir: Path, device: str = "cpu", dtype: str = "float32"
) -> Compressor:
    """The trained compressor in `adapter_dir`, loaded by the backend that trained it."""
    meta = read_meta(adapter_dir)
    return get_backend(str(meta.get("backend", "torch"))).load(adapter_dir, meta, cache_dir, device, dtype)
