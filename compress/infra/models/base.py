"""The configured base model: loading it (bundled GGUF copy or Hugging Face Hub) and whether it can be had here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from compress.infra.errors import CompressError
from compress.infra.models.bundled import LOCAL_MODELS, load_hf


def load_base(
    model_cfg: Any, cache_dir: Path, device: str = "cpu", dtype: str = "float32"
) -> tuple[Any, Any, str]:
    """Tokenizer, model and chat format of the configured base model (the bundled one runs in float32)."""
    if model_cfg.source == "gguf_package":
        name = str(model_cfg.name)
        if name not in LOCAL_MODELS:
            raise CompressError(f"model.name={name!r} is not a bundled model ({sorted(LOCAL_MODELS)}).")
        local_tok, local_model = load_hf(name, cache_dir, device)
        return local_tok, local_model, LOCAL_MODELS[name].chat_format
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_cfg.hf_id))
    model: Any = AutoModelForCausalLM.from_pretrained(str(model_cfg.hf_id), dtype=getattr(torch, dtype))
    model = model.to(device)
    return tok, model, str(model_cfg.chat_format)


def hf_model_available(repo: str) -> str | None:
    """None when the model is in the local HF cache or the Hub answers; else why not."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(repo, "config.json"), str):
        return None
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return "it is not in the local Hugging Face cache and HF_HUB_OFFLINE=1"
    try:
        from huggingface_hub import HfApi

        HfApi().model_info(repo, timeout=10)
        return None
    except Exception as exc:
        return f"it is not in the local Hugging Face cache and the Hub is unreachable ({type(exc).__name__})"


def requirements(cfg: Any) -> list[str]:
    """What training the configured base model needs here: a Hub model must be cached or reachable."""
    if cfg.model.source != "hf":
        return []
    why = hf_model_available(str(cfg.model.hf_id))
    if not why:
        return []
    return [
        f"train: model {cfg.model.hf_id}: {why}. On a networked machine run "
        f"`huggingface-cli download {cfg.model.hf_id}` (and set HF_TOKEN if the repo is gated)."
    ]
