"""Training backends, keyed by `backend.name`. Each trains LoRA on weighted examples and saves an adapter."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compress.errors import NotImplementedBackend
from compress.preflight import IMPLEMENTED_BACKENDS


def get_backend(name: str) -> Callable[..., dict[str, Any]]:
    """The train function of a backend (raises a clear error for one not in this version)."""
    if name == "torch":
        from compress.backends.torch_backend import train

        return train
    raise NotImplementedBackend(
        f"backend={name} is not available in this version (implemented: {sorted(IMPLEMENTED_BACKENDS)}). Use backend=torch."
    )
