"""Local engines: run a prompt through a bundled model (llama.cpp, or transformers) one call at a time."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from compress.infra.console import native_stderr_quiet
from compress.infra.models.bundled import load_hf


@dataclass
class Completion:
    """One generation's text and token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class Engine(Protocol):
    """Runs a prompt through a local model (thread-safe: the provider calls it from many threads)."""

    name: str

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> Completion:
        """The model's continuation of `prompt`: at most `max_tokens`, cut at the first `stop` string."""
        ...


class LlamaCppEngine:
    """llama.cpp through llama-cpp-python; one generation at a time (the context is not thread-safe)."""

    name = "llama_cpp"

    def __init__(self, path: Path, threads: int | None) -> None:
        from llama_cpp import Llama

        # use_mmap=False: with mapping on, generation here was 5-25x slower.
        with native_stderr_quiet():
            self._llm = Llama(
                model_path=str(path),
                n_ctx=4096,
                n_threads=threads or os.cpu_count() or 2,
                use_mmap=False,
                verbose=False,
                seed=0,
            )
        self._lock = threading.Lock()

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> Completion:
        # Stop sequences count only once the answer has begun: a base model often opens with a blank
        # line, and llama.cpp's own `stop` would then end the answer before its first word.
        text, n_out, finish = "", 0, "length"
        with self._lock:
            n_in = len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True, special=True))
            stream: Any = self._llm.create_completion(
                prompt, max_tokens=max_tokens, temperature=temperature, seed=0, stream=True
            )
            for chunk in stream:
                choice = chunk["choices"][0]
                if choice.get("finish_reason") and not choice["text"]:
                    finish = choice["finish_reason"]
                    break  # the closing chunk carries no token
                text += choice["text"]
                n_out += 1
                body = text.lstrip()
                cut = min((body.find(s) for s in stop if s and s in body), default=-1)
                if cut >= 0:
                    text, finish = body[:cut], "stop"
                    break
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            stream.close()
        return Completion(text, n_in, n_out, finish)

    def close(self) -> None:
        """Free the model (at exit, before the interpreter tears llama_cpp down)."""
        self._llm.close()


class TransformersEngine:
    """transformers `generate` on the cached safetensors copy (slower; no compiler needed)."""

    name = "transformers"

    def __init__(self, model_name: str, cache_dir: Path) -> None:
        self._tok, self._model = load_hf(model_name, cache_dir)
        self._lock = threading.Lock()

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> Completion:
        import torch

        ids = self._tok(prompt, return_tensors="pt")
        n_in = ids["input_ids"].shape[1]
        sample = temperature > 0
        with self._lock, torch.inference_mode():
            out = self._model.generate(
                **ids,
                max_new_tokens=max_tokens,
                do_sample=sample,
                temperature=temperature if sample else None,
                top_p=None,
                top_k=None,
                pad_token_id=self._tok.pad_token_id,
                stop_strings=stop or None,
                tokenizer=self._tok,
            )
        new = out[0, n_in:]
        text = self._tok.decode(new, skip_special_tokens=True)
        finish = "length" if len(new) >= max_tokens else "stop"
        for s in stop:
            if s in text:
                text, finish = text.split(s, 1)[0], "stop"
        return Completion(text, n_in, len(new), finish)
