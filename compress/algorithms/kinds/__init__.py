"""Compressor kinds by `compressor.name`: every module of this folder that defines `KIND`.

A new kind is one module here defining `KIND` (an object implementing
`compress.algorithms.kinds.base.CompressorKind`: its schema, training, loading, package, what it can
be asked and needs) and `conf/compressor/<name>.yaml` beginning `defaults: [schema_<name>, _self_]`.
Nothing else changes: the config store, preflight, the train stage and its fingerprint, evaluate, the
packager and the loader find it here.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from compress.algorithms.compressors.base import Compressor, find_adapter, read_meta
from compress.algorithms.kinds.base import CompressorKind
from compress.infra.errors import CompressError
from compress.infra.models.engines import resolve_engine


def _discover() -> dict[str, CompressorKind]:
    found: dict[str, CompressorKind] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        kind = getattr(module, "KIND", None)
        if kind is None:
            continue  # a helper module kinds share
        if kind.name in found:
            raise CompressError(f"compressor kind {kind.name!r} is defined twice ({module.__name__}).")
        found[kind.name] = kind
    return found


KINDS: dict[str, CompressorKind] = _discover()


def kind_named(name: str) -> CompressorKind:
    """The kind called `name` (a clear error naming the kinds there are)."""
    if name not in KINDS:
        raise CompressError(f"compressor={name!r} is unknown. Choose one of {sorted(KINDS)}.")
    return KINDS[name]


def kind_of(cfg: Any) -> CompressorKind:
    """The kind the job config chooses (`compressor.name`)."""
    return kind_named(str(cfg.compressor.name))


def kind_of_meta(meta: dict[str, Any]) -> CompressorKind:
    """The kind that wrote a compressor.json (one without `kind` is the first version's generative)."""
    return kind_named(str(meta.get("kind", "generative")))


def load_adapter(
    path: Path, cache: Path, device: str = "cpu", dtype: str = "float32", engine: str = "auto"
) -> Compressor:
    """The trained compressor in a run dir, its train stage dir or its adapter dir, of the kind its
    compressor.json names, on `device` (`engine`: auto, llama_cpp or transformers, where the kind has
    more than one)."""
    resolve_engine(engine, setting="engine")  # a misspelt engine is named before anything is read
    adapter = find_adapter(Path(path))
    meta = read_meta(adapter)
    return kind_of_meta(meta).load(adapter, meta, cache, device, dtype, engine)
