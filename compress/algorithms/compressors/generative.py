"""The generative compressor: a base LM with a LoRA adapter that rewrites the text.

Its prompt is shared by training (every backend builds examples with it) and inference; its metadata
(`compressor.json`, written beside the adapter) says which base model, chat format, instruction and
backend made it, so the evaluate stage and the library rebuild it whichever backend trained it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from compress.algorithms.compressors.base import Capabilities, Compressed, Request, write_meta
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from compress.infra.models.base import load_base
from compress.infra.models.bundled import render_prompt

# the GGUF LoRA llama.cpp applies to the base GGUF, exported on demand beside the PEFT files
GGUF_ADAPTER = "adapter.gguf"
# tokens generated when a request gives no cap (both engines)
DEFAULT_CAP = 256


def default_cap(text_tokens: int) -> int:
    """Tokens a generative compressor may write for a text of `text_tokens` when no budget is given."""
    return min(DEFAULT_CAP, text_tokens + 8)


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

    A request's budget caps the tokens it generates (its own): it writes the length it learned."""

    tok: Any
    model: Any
    chat_format: str
    instruction: str
    name: str = "generative"
    engine: str = "transformers"
    capabilities = Capabilities(rate_controlled=False)

    def generate(self, text: str, max_new_tokens: int) -> tuple[str, float]:
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

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One generation per request, capped at its budget; without one, at the text's own length
        (+8, at most 256): it writes the length it learned, never much longer than the input."""
        return [
            Compressed(*self.generate(r.text, r.budget or default_cap(len(self.tok(r.text).input_ids))))
            for r in requests
        ]


class LlamaCppGenerative:
    """The same compressor under llama.cpp: the base GGUF with the adapter as a GGUF LoRA.

    Same prompt, greedy decoding and token cap as `GenerativeCompressor`; the base weights stay
    quantised (the transformers copy is their dequantised floats), so outputs agree closely, not
    bit for bit. One generation at a time: a llama.cpp context is not thread-safe."""

    name = "generative"
    engine = "llama_cpp"
    capabilities = Capabilities(rate_controlled=False)

    def __init__(
        self,
        base_gguf: Path,
        lora_gguf: Path,
        chat_format: str,
        instruction: str,
        n_ctx: int = 8192,
        threads: int | None = None,
    ) -> None:
        from llama_cpp import Llama

        if chat_format != "completion":
            raise CompressError(
                f"engine=llama_cpp renders prompts for base models (chat_format=completion), not {chat_format!r}: "
                "use engine=transformers."
            )
        # use_mmap=False: with mapping on, generation here was 5-25x slower.
        self._llm = Llama(
            model_path=str(base_gguf),
            lora_path=str(lora_gguf),
            n_ctx=n_ctx,
            # the cores this process may run on (taskset, cgroups), not all the machine has
            n_threads=threads or len(os.sched_getaffinity(0)),
            use_mmap=False,
            verbose=False,
            seed=0,
        )
        self.chat_format, self.instruction, self.n_ctx = chat_format, instruction, n_ctx
        self._lock = threading.Lock()

    def generate(self, text: str, max_new_tokens: int) -> tuple[str, float]:
        """Greedy compression of one text; returns the text and the seconds it took."""
        prompt = format_prompt(None, compressor_messages(self.instruction, text), self.chat_format)
        with self._lock:
            t0 = time.perf_counter()
            ids = self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True)
            if len(ids) + max_new_tokens > self.n_ctx:
                raise CompressError(
                    f"text too long for engine=llama_cpp: {len(ids)} prompt tokens + {max_new_tokens} to "
                    f"generate exceed its context of {self.n_ctx}; shorten the text or load with a larger n_ctx."
                )
            # no KV-cache reuse from the previous request: its prefix would be evaluated in another
            # batch split, which moves logits enough to flip near-ties; the same text gives the same output
            self._llm.reset()
            out: Any = self._llm.create_completion(
                ids, max_tokens=max_new_tokens, temperature=0.0, repeat_penalty=1.0, seed=0
            )
            seconds = time.perf_counter() - t0
        return str(out["choices"][0]["text"]).strip(), seconds

    def compress_many(self, requests: Sequence[Request], counter: TokenCounter) -> list[Compressed]:
        """One generation per request, capped as `GenerativeCompressor` caps it."""
        return [
            Compressed(*self.generate(r.text, r.budget or default_cap(len(self._tokens(r.text)))))
            for r in requests
        ]

    def _tokens(self, text: str) -> list[int]:
        with self._lock:
            return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False))

    def close(self) -> None:
        """Free the llama.cpp model now (its own finaliser fails at interpreter exit)."""
        with self._lock:
            self._llm.close()


def save_meta(
    adapter_dir: Path, model_cfg: Any, chat_format: str, instruction: str, backend: str, **extra: Any
) -> None:
    """Record what the evaluate stage needs to rebuild the compressor (and which backend trained it)."""
    meta = {
        "kind": "generative",
        "model": {"name": str(model_cfg.name), "source": str(model_cfg.source), "hf_id": model_cfg.hf_id},
        "chat_format": chat_format,
        "instruction": instruction,
        "backend": backend,
        **extra,
    }
    write_meta(adapter_dir, meta)


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
