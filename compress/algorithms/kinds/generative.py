"""`compressor=generative`: the base model (`model=`) with a LoRA adapter trained by `backend=` rewrites
the text. It can paraphrase, but costs a decode per output token and writes the length it learned, so
a budget only caps it (in its own tokens, close to the target model's for the bundled model).

The algorithm (prompt, the transformers and llama.cpp engines) is `compress.algorithms.compressors.
generative`, shared with the backends that train it; its exports (merged weights, a GGUF LoRA for
llama.cpp) are `compress.algorithms.backends.lora_export`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import MISSING
from rich.console import Console

from compress.algorithms.backends import BACKENDS, get_backend
from compress.algorithms.backends.lora_export import EXPORTS, PEFT_FILES, ensure_gguf, export_all
from compress.algorithms.compressors.base import Capabilities, Compressor
from compress.algorithms.compressors.generative import LlamaCppGenerative
from compress.algorithms.kinds.base import Log, weight_metrics, weighted
from compress.infra.config_schema import Schema
from compress.infra.errors import CompressError
from compress.infra.models import base as base_model
from compress.infra.models.bundled import LOCAL_MODELS, gguf_path
from compress.infra.models.engines import resolve_engine
from compress.infra.training.config import TrainConfig

_console = Console(stderr=True)


@dataclass
class GenerativeConfig(Schema):
    """`compressor=generative`: the LoRA LM; its training settings are `train` (`TrainConfig`)."""

    name: str = MISSING


def llama_cpp_unfit(meta: dict[str, Any]) -> str | None:
    """Why a generative adapter cannot run under llama.cpp here (None when it can): llama.cpp needs
    the base model as GGUF (the bundled models) and the adapter's weights on this machine."""
    model = meta.get("model") or {}
    if model.get("source") != "gguf_package" or model.get("name") not in LOCAL_MODELS:
        return f"its base model {model.get('hf_id') or model.get('name')} has no GGUF here (only the bundled models do)"
    if meta.get("remote"):
        return f"its weights stayed remote (backend={meta.get('backend')}, backend.download=false)"
    return None


class Generative:
    """The LoRA LM: trained by `backend.name` on the validated pairs, weighted by validation outcome."""

    name = "generative"
    schema = GenerativeConfig
    capabilities = Capabilities(rate_controlled=False)
    train_reads = ("train", "compressor", "backend", "model", "domain.instruction", "seed")
    exports = EXPORTS

    def requirements(self, cfg: Any, stage: str) -> list[str]:
        """The backend's (train, evaluate) and the base model's (train)."""
        name = str(cfg.backend.name)
        if name not in BACKENDS:
            if stage != "train":
                return []
            return [
                f"train: backend={name} is not available in this version (implemented: {sorted(BACKENDS)}); "
                "use backend=torch, which runs on CPU or CUDA."
            ]
        problems = BACKENDS[name].requirements(cfg, stage)
        if stage == "train":
            problems += base_model.requirements(cfg)
        return problems

    def train(
        self, cfg: Any, rows: list[dict[str, Any]], out: Path, cache: Path, log: Log, held_out: set[str]
    ) -> dict[str, Any]:
        """LoRA training on the configured backend (on the train split's pairs only), then what
        `train.export` asks for into `out/export`."""
        rows = weighted(cfg, rows)
        result: dict[str, Any] = get_backend(str(cfg.backend.name)).train(cfg, rows, out, cache, log)
        result["metrics"].update(weight_metrics(rows))
        asked = list(TrainConfig.of(cfg.train).export)
        done = self.export(out / "adapter", out / "export", asked, cache)
        result["metrics"].update({f"export_{k}": str(v.relative_to(out)) for k, v in done.items()})
        return result

    def budget(self, cfg: Any, n_tokens: int, teacher_tokens: int | None = None) -> int:
        """A cap, not a target: it writes its own length, never much longer than the input."""
        return min(int(cfg.evaluate.max_new_tokens), n_tokens + 8)

    def inference_device(self, cfg: Any) -> tuple[str, str]:
        """Where the backend evaluates its adapters."""
        return get_backend(str(cfg.backend.name)).inference_device(cfg)

    def load(
        self, adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, dtype: str, engine: str
    ) -> Compressor:
        """`llama_cpp` runs the base GGUF with the adapter exported as a GGUF LoRA (once, cached beside
        it); `transformers` loads it through the backend that trained it; `auto` takes llama.cpp when
        it is installed and the base model is bundled, else transformers."""
        chosen = resolve_engine(engine, setting="engine")
        if chosen == "llama_cpp":
            why = llama_cpp_unfit(meta)
            if why is None:
                try:
                    return LlamaCppGenerative(
                        gguf_path(str(meta["model"]["name"]), cache),
                        ensure_gguf(adapter_dir, cache),
                        str(meta["chat_format"]),
                        str(meta["instruction"]),
                    )
                except CompressError as exc:  # e.g. an adapter the GGUF export refuses
                    why = str(exc)
            if engine == "llama_cpp":
                raise CompressError(f"{adapter_dir}: engine=llama_cpp cannot run this adapter: {why}.")
            _console.print(f"[yellow]{adapter_dir}: transformers, not llama.cpp: {why}[/]")
        backend = get_backend(str(meta.get("backend", "torch")))
        return backend.load(adapter_dir, meta, cache, device, dtype)

    def prepare_package(self, adapter_dir: Path, meta: dict[str, Any], cache: Path, gguf: bool) -> None:
        """The PEFT weights must be here (a remote backend may have kept them remote); with `gguf` the
        GGUF LoRA for llama.cpp is exported beside them, so the package carries it."""
        missing = [f for f in PEFT_FILES if not (adapter_dir / f).is_file()]
        if missing:
            raise CompressError(
                f"{adapter_dir}: a package needs the adapter's weights, and {missing} are missing "
                "(a remote backend with backend.download=false keeps them remote: retrain with backend.download=true)."
            )
        if gguf:
            ensure_gguf(adapter_dir, cache)

    def export(
        self, adapter_dir: Path, out: Path, names: Sequence[str], cache: Path, dtype: str | None = None
    ) -> dict[str, Path]:
        """The adapter merged into its base model and/or as a GGUF LoRA, into `out`."""
        return export_all(adapter_dir, out, list(names), cache, dtype) if names else {}


KIND = Generative()
