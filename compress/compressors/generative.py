"""The generative compressor: a base LM with a LoRA adapter that rewrites the text.

Its prompt is shared by training (every backend builds examples with it) and inference; its metadata
(`compressor.json`, written beside the adapter) says which base model, chat format, instruction and
backend made it, so the evaluate stage and the library rebuild it whichever backend trained it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from compress.compressors.base import Compressed, Request
from compress.errors import CompressError
from compress.models.base import load_base
from compress.models.bundled import render_prompt

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


@dataclass
class GenerativeCompressor:
    """A base model with a trained LoRA adapter, ready to compress.

    A request's `target_tokens` caps the tokens it generates: it writes the length it learned."""

    tok: Any
    model: Any
    chat_format: str
    instruction: str
    name: str = "trained"

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

    def compress_many(self, requests: Sequence[Request]) -> list[Compressed]:
        """One generation per request, capped at its `target_tokens` (256 when none is given)."""
        return [Compressed(*self.compress(r.text, r.target_tokens or 256)) for r in requests]


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


def read_meta(adapter_dir: Path) -> dict[str, Any]:
    """The adapter's `compressor.json` (a clear error for a dir the train stage did not write)."""
    path = adapter_dir / META_FILE
    if not path.is_file():
        raise CompressError(
            f"{adapter_dir} holds no {META_FILE}: it is not an adapter written by the train stage."
        )
    meta: dict[str, Any] = json.loads(path.read_text())
    return meta


def meta_model_cfg(meta: dict[str, Any]) -> Any:
    """The base model's config node as the metadata records it (what `load_base` takes)."""
    return OmegaConf.create(meta["model"] | {"chat_format": meta["chat_format"]})


def load_peft(
    adapter_dir: Path, meta: dict[str, Any], cache_dir: Path, device: str = "cpu", dtype: str = "float32"
) -> GenerativeCompressor:
    """The base model named in the metadata with the PEFT adapter of `adapter_dir` applied."""
    from peft import PeftModel

    tok, base, chat_format = load_base(meta_model_cfg(meta), cache_dir, device, dtype)
    model = PeftModel.from_pretrained(base, str(adapter_dir))
    model.eval()
    return GenerativeCompressor(tok, model, chat_format, meta["instruction"])
