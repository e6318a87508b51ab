"""The one interface every training backend implements, and the memory it trains in.

A backend (`backend.name`) trains LoRA on weighted rows (`original`, `compressed`, `weight`; loss on the
completion only) and saves `out_dir/adapter` in PEFT format (adapter_config.json +
adapter_model.safetensors) with `compressor.json` (`compress.compressors.generative.save_meta`), so
whatever trained it, `load()` gives the same kind of compressor. Preflight asks `requirements()`
before anything runs; `model=auto` asks `memory_budget()` what fits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from compress.compressors.base import Compressor


@dataclass(frozen=True)
class Budget:
    """Where LoRA training runs and how much memory it may use there (None: remote, unlimited)."""

    backend: str
    place: str  # "cuda", "cpu", "mlx" or "remote"
    memory_bytes: int | None
    dtype: str
    checkpointing: bool = False
    four_bit: bool = False


class Backend(Protocol):
    """A training backend: what it needs, the memory it has, training, and loading what it trained."""

    name: str

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """What `stage` (train, or evaluate, which loads the adapter) lacks here with this backend."""
        ...

    def memory_budget(self, cfg: Any) -> Budget:
        """The memory this backend would train in on this machine now."""
        ...

    def train(
        self,
        cfg: Any,
        rows: list[dict[str, Any]],
        out_dir: Path,
        cache_dir: Path,
        log: Callable[[dict[str, Any], int], None],
    ) -> dict[str, Any]:
        """Train and save `out_dir/adapter`; returns {"history": [...], "metrics": {...}}."""
        ...

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache_dir: Path, device: str, dtype: str
    ) -> Compressor:
        """The compressor an adapter this backend trained stands for."""
        ...

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """(torch device, dtype) its adapters are evaluated on here."""
        ...


def ram_bytes(available: bool) -> int:
    """Available (or total) RAM of this machine."""
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.available if available else vm.total)
    except ImportError:
        pages = os.sysconf("SC_AVPHYS_PAGES" if available else "SC_PHYS_PAGES")
        return int(pages * os.sysconf("SC_PAGE_SIZE"))


def cuda_free() -> int | None:
    """Free VRAM of the current CUDA device, None without CUDA."""
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info()
        return int(free)
    except (ImportError, RuntimeError):
        return None


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:
        return False


def device_requirements(cfg: Any) -> list[str]:
    """`backend.device=cuda` needs a CUDA GPU."""
    if str(cfg.backend.get("device")) == "cuda" and not cuda_available():
        return [
            "train: backend.device=cuda but torch.cuda.is_available() is False here; set backend.device=cpu."
        ]
    return []


def local_inference_device(cfg: Any) -> tuple[str, str]:
    """Evaluate on CUDA in the backend's dtype when there is one (a Qwen3-8B adapter is 32 GB in
    float32), else on the CPU in float32."""
    pref = str(cfg.backend.get("device") or "auto")
    device = "cuda" if pref in {"auto", "cuda", "gpu"} and cuda_available() else "cpu"
    return device, str(cfg.backend.dtype) if device == "cuda" else "float32"
