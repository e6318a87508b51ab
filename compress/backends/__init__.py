"""Training backends, keyed by `backend.name`.

A backend is a module with
  `train(cfg, rows, out_dir, cache_dir, log) -> {"history": [...], "metrics": {...}}`
that trains LoRA on weighted rows (`original`, `compressed`, `weight`; loss on the completion only)
and saves `out_dir/adapter` in PEFT format (adapter_config.json + adapter_model.safetensors) with
`compressor.json` (see `compress.compressor.save_meta`), so the evaluate stage loads any backend's
adapter the same way. A backend whose adapter must stay remote may also define
  `load(adapter_dir, meta, cache_dir) -> object with .compress(text, max_new_tokens)`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from compress.errors import NotImplementedBackend

# name -> module; a backend not listed here is refused with the list of those that are.
BACKENDS: dict[str, str] = {
    "torch": "compress.backends.torch_backend",
    "mlx": "compress.backends.mlx_backend",
    "tinker": "compress.backends.tinker_backend",
    "unsloth": "compress.backends.unsloth_backend",
}


def get_backend(name: str) -> ModuleType:
    """The module of a backend (raises a clear error for one not in this version)."""
    if name not in BACKENDS:
        raise NotImplementedBackend(
            f"backend={name} is not available in this version (implemented: {sorted(BACKENDS)}). Use backend=torch."
        )
    return importlib.import_module(BACKENDS[name])
