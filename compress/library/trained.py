"""Loading what the train stage wrote: the adapter's metadata names the backend that loads it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from compress.algorithms.backends import get_backend
from compress.algorithms.backends.lora_export import ensure_gguf
from compress.algorithms.compressors import classifier, selector
from compress.algorithms.compressors.base import Compressor
from compress.algorithms.compressors.generative import LlamaCppGenerative, read_meta
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.bundled import LOCAL_MODELS, gguf_path
from compress.infra.models.engines import resolve_engine

_console = Console(stderr=True)


# the kinds that run on an encoder, by the `kind` their compressor.json names: their loaders
def _classifier(
    adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, counter: Any
) -> Compressor:
    return classifier.load_classifier(
        adapter_dir, classifier.ClassifierMeta.model_validate(meta), cache, device, counter
    )


def _selector(adapter_dir: Path, meta: dict[str, Any], cache: Path, device: str, counter: Any) -> Compressor:
    return selector.load_selector(
        adapter_dir, selector.SelectorMeta.model_validate(meta), cache, device, counter
    )


ENCODER_KINDS: dict[str, Callable[[Path, dict[str, Any], Path, str, Any], Compressor]] = {
    classifier.KIND: _classifier,
    selector.KIND: _selector,
}


def llama_cpp_unfit(meta: dict[str, Any]) -> str | None:
    """Why a generative adapter cannot run under llama.cpp here (None when it can): llama.cpp needs
    the base model as GGUF (the bundled models) and the adapter's weights on this machine."""
    model = meta.get("model") or {}
    if model.get("source") != "gguf_package" or model.get("name") not in LOCAL_MODELS:
        return f"its base model {model.get('hf_id') or model.get('name')} has no GGUF here (only the bundled models do)"
    if meta.get("remote"):
        return f"its weights stayed remote (backend={meta.get('backend')}, backend.download=false)"
    return None


def load_trained(
    adapter_dir: Path,
    cache_dir: Path,
    device: str = "cpu",
    dtype: str = "float32",
    engine: str = "auto",
    counter: TokenCounter | None = None,
) -> Compressor:
    """The trained compressor in `adapter_dir`, of the kind its `compressor.json` names.

    `engine` (the generative kind): `llama_cpp` runs the base GGUF with the adapter exported as a GGUF
    LoRA (once, cached beside it); `transformers` loads it through the backend that trained it; `auto`
    takes llama.cpp when it is installed and the base model is bundled, else transformers.
    `counter` (the classifier kind): whose tokens its budgets count (default: the target model it was
    trained for)."""
    chosen = resolve_engine(engine, setting="engine")
    meta = read_meta(adapter_dir)
    if meta.get("kind") in ENCODER_KINDS:
        if engine == "llama_cpp":
            raise CompressError(
                f"{adapter_dir}: engine=llama_cpp runs the generative kind, not {meta['kind']!r}."
            )
        return ENCODER_KINDS[str(meta["kind"])](adapter_dir, meta, cache_dir, device, counter)
    generative = meta.get("kind", "generative") == "generative"
    if not generative and engine == "llama_cpp":
        raise CompressError(
            f"{adapter_dir}: engine=llama_cpp runs the generative kind, not {meta['kind']!r}."
        )
    if generative and chosen == "llama_cpp":
        why = llama_cpp_unfit(meta)
        if why is None:
            try:
                return LlamaCppGenerative(
                    gguf_path(str(meta["model"]["name"]), cache_dir),
                    ensure_gguf(adapter_dir, cache_dir),
                    str(meta["chat_format"]),
                    str(meta["instruction"]),
                )
            except CompressError as exc:  # e.g. an adapter the GGUF export refuses
                why = str(exc)
        if engine == "llama_cpp":
            raise CompressError(f"{adapter_dir}: engine=llama_cpp cannot run this adapter: {why}.")
        _console.print(f"[yellow]{adapter_dir}: transformers, not llama.cpp: {why}[/]")
    return get_backend(str(meta.get("backend", "torch"))).load(adapter_dir, meta, cache_dir, device, dtype)
