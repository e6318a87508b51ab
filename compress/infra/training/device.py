"""Where training and inference run: CUDA when there is one and the config allows, the memory there."""

from __future__ import annotations

import os
from typing import Any


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


def resolve_device(pref: str) -> str:
    """`auto` is CUDA when available, else CPU."""
    import torch

    if pref == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return pref
