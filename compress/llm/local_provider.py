"""A LiteLLM custom provider, `local/<name>`, that runs a bundled model on this machine.

Teachers and validators call `litellm.acompletion(model="local/gemma3-270m", ...)` exactly as they
call `anthropic/...`, so swapping the local model for a frontier one is a config change.
The engine is llama.cpp (llama-cpp-python, 10x faster on CPU) or transformers.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import litellm
from litellm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

from compress.models.bundled import gguf_path, load_hf, local_model, render_prompt
from compress.models.engines import resolve_engine

PROVIDER = "local"


@dataclass
class Completion:
    """One generation's text and token counts."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


class Engine(Protocol):
    """Runs a prompt through a local model."""

    name: str

    def complete(self, prompt: str, max_tokens: int, temperature: float, stop: list[str]) -> Completion: ...


class LlamaCppEngine:
    """llama.cpp through llama-cpp-python; one generation at a time (the context is not thread-safe)."""

    name = "llama_cpp"

    def __init__(self, path: Path, threads: int | None) -> None:
        from llama_cpp import Llama

        # use_mmap=False: with mapping on, generation here was 5-25x slower.
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


# `llm.local_engine` -> how to load that engine for a bundled model
ENGINE_TYPES: dict[str, Callable[[str, Path], Engine]] = {
    "llama_cpp": lambda name, cache_dir: LlamaCppEngine(gguf_path(name, cache_dir), threads=None),
    "transformers": TransformersEngine,
}
_ENGINES: dict[tuple[str, str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


@atexit.register
def _close_engines() -> None:
    # llama.cpp frees its model in __del__, which fails once the interpreter has torn its module down
    for engine in _ENGINES.values():
        close = getattr(getattr(engine, "_llm", None), "close", None)
        if close is not None:
            close()
    _ENGINES.clear()


def get_engine(model_name: str, engine: str, cache_dir: Path) -> Engine:
    """A loaded engine for a bundled model, shared by the calls of this process (the weights never change)."""
    key = (model_name, engine, str(cache_dir))
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = ENGINE_TYPES[engine](model_name, cache_dir)
        return _ENGINES[key]


class LocalProvider(CustomLLM):
    """The `local/` provider: renders chat messages for the bundled model and generates."""

    def __init__(self, cache_dir: Path, engine: str) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.engine = engine

    def _run(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any], response: ModelResponse
    ) -> ModelResponse:
        name = model.split("/", 1)[1] if model.startswith(PROVIDER + "/") else model
        spec = local_model(name)
        engine = get_engine(name, self.engine, self.cache_dir)
        prompt = render_prompt(messages, spec.chat_format)
        stop = params.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        result = engine.complete(
            prompt,
            max_tokens=int(params.get("max_tokens") or params.get("max_completion_tokens") or 256),
            temperature=float(params.get("temperature") or 0.0),
            stop=stop,
        )
        choice: Any = response.choices[0]
        choice.message.content = result.text.strip()
        choice.finish_reason = result.finish_reason
        response.model = f"{PROVIDER}/{name}"
        response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            total_tokens=result.prompt_tokens + result.completion_tokens,
        )
        return response

    def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return self._run(
            kwargs["model"], kwargs["messages"], kwargs.get("optional_params") or {}, kwargs["model_response"]
        )

    async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await asyncio.to_thread(self.completion, *args, **kwargs)


def register(cache_dir: Path, engine: str = "auto") -> str:
    """Register the `local/` provider with LiteLLM; returns the engine that will run."""
    chosen = resolve_engine(engine)
    handler = LocalProvider(cache_dir, chosen)
    others = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler}]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    return chosen
