"""The one interface every training backend implements, and the memory it trains in.

A backend (`backend.name`) trains LoRA on weighted rows (`original`, `compressed`, `weight`; loss on the
completion only) and saves `out_dir/adapter` in PEFT format (adapter_config.json +
adapter_model.safetensors) with `compressor.json` (`compress.algorithms.compressors.generative.save_meta`), so
whatever trained it, `load()` gives the same kind of compressor. Preflight asks `requirements()`
before anything runs; `model=auto` asks `memory_budget()` what fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from compress.algorithms.compressors.base import Compressor


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
