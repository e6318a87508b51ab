"""The learned compressor: its prompt (shared by training and inference), loading and generation."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compress.errors import CompressError
from compress.localmodel import LOCAL_MODELS, load_hf, render_prompt

META_FILE = "compressor.json"


def compressor_messages(instruction: str, text: str) -> list[dict[str, str]]:
    """The chat messages asking the compressor to compress `text`."""
    return [{"role": "system", "content": instruction}, {"role": "user", "content": f"Text:\n{text}"}]


def format_prompt(tok: Any, messages: list[dict[str, str]], chat_format: str) -> str:
    """The prompt string for a model: plain completion for base models, the chat template otherwise."""
    if chat_format == "completion":
        return render_prompt(messages, chat_format)
    # Qwen3: thinking off, or prompt masking trains on an empty <think> block.
    return str(
        tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, enable_thinking=False)
    )


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


@dataclass
class Compressor:
    """A base model with a trained LoRA adapter, ready to compress."""

    tok: Any
    model: Any
    chat_format: str
    instruction: str

    def compress(self, text: str, max_new_tokens: int) -> tuple[str, float]:
        """Greedy compression of one text; returns the text and the seconds it took."""
        import torch

        prompt = format_prompt(self.tok, compressor_messages(self.instruction, text), self.chat_format)
        ids = self.tok(prompt, return_tensors="pt").to(self.model.device)
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(
                **ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=self.tok.pad_token_id
            )
        seconds = time.perf_counter() - t0
        return self.tok.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True).strip(), seconds


def save_meta(
    adapter_dir: Path, model_cfg: Any, chat_format: str, instruction: str, backend: str, **extra: Any
) -> None:
    """Record what the evaluate stage needs to rebuild the compressor (and which backend trained it)."""
    meta = {
        "model": {"name": str(model_cfg.name), "source": str(model_cfg.source), "hf_id": model_cfg.hf_id},
        "chat_format": chat_format,
        "instruction": instruction,
        "backend": backend,
        **extra,
    }
    (adapter_dir / META_FILE).write_text(json.dumps(meta, indent=2))


def load_compressor(adapter_dir: Path, cache_dir: Path, device: str = "cpu", dtype: str = "float32") -> Any:
    """The trained compressor: the backend's own loader when it has one (e.g. a remote adapter),
    else the base model named in the adapter's metadata with the PEFT adapter applied."""
    from omegaconf import OmegaConf
    from peft import PeftModel

    from compress.backends import BACKENDS, get_backend

    meta_path = adapter_dir / META_FILE
    if not meta_path.exists():
        raise CompressError(
            f"{adapter_dir} holds no {META_FILE}: it is not an adapter written by the train stage."
        )
    meta = json.loads(meta_path.read_text())
    backend = meta.get("backend", "torch")
    if backend in BACKENDS:
        module = get_backend(backend)
        if hasattr(module, "load"):
            return module.load(adapter_dir, meta, cache_dir)
    tok, base, chat_format = load_base(
        OmegaConf.create(meta["model"] | {"chat_format": meta["chat_format"]}), cache_dir, device, dtype
    )
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    return Compressor(tok, model, chat_format, meta["instruction"])
