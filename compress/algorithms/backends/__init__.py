"""Training backends of the generative kind's LoRA, keyed by `backend.name`: each implements
`compress.algorithms.backends.base.Backend` (the other kinds train on their own, with no backend).

A new backend is a module with a class implementing that Protocol (requirements, memory budget,
train, load, inference device) and an entry in `BACKENDS`; shared parts are in `common.py`.
"""

from __future__ import annotations

from compress.algorithms.backends import mlx_backend, tinker_backend, torch_backend, unsloth_backend
from compress.algorithms.backends.base import Backend
from compress.infra.errors import NotImplementedBackend

BACKENDS: dict[str, Backend] = {
    "torch": torch_backend.BACKEND,
    "mlx": mlx_backend.BACKEND,
    "tinker": tinker_backend.BACKEND,
    "unsloth": unsloth_backend.BACKEND,
}


def get_backend(name: str) -> Backend:
    """The backend called `name` (a clear error for one not in this version)."""
    if name not in BACKENDS:
        raise NotImplementedBackend(
            f"backend={name} is not available in this version (implemented: {sorted(BACKENDS)}). Use backend=torch."
        )
    return BACKENDS[name]
