"""A LiteLLM custom provider, `local/<name>`, that runs a bundled model on this machine.

Teachers and validators call `litellm.acompletion(model="local/gemma3-270m", ...)` exactly as they
call `anthropic/...`, so swapping the local model for a frontier one is a config change.
The engine is llama.cpp (llama-cpp-python, 10x faster on CPU) or transformers.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import ModelResponse, Usage

from compress.infra.llm.batched import BatchedLlamaCpp
from compress.infra.llm.engine import Engine, LlamaCppEngine, TransformersEngine
from compress.infra.llm.retry import litellm_module
from compress.infra.models.bundled import gguf_path, local_model, render_prompt
from compress.infra.models.engines import resolve_engine

PROVIDER = "local"


# `llm.local_engine` -> how to load that engine for a bundled model
ENGINE_TYPES: dict[str, Callable[[str, Path, int], Engine]] = {
    # batch > 1: greedy calls decoded together (compress.infra.llm.batched), sampling ones one at a time
    "llama_cpp": lambda name, cache_dir, batch: (
        BatchedLlamaCpp(gguf_path(name, cache_dir), n_seq=batch)
        if batch > 1
        else LlamaCppEngine(gguf_path(name, cache_dir), threads=None)
    ),
    "transformers": lambda name, cache_dir, batch: TransformersEngine(name, cache_dir),
}
_ENGINES: dict[tuple[str, str, str, int], Engine] = {}
_ENGINES_LOCK = threading.Lock()


@atexit.register
def _close_engines() -> None:
    # llama.cpp frees its model in __del__, which fails once the interpreter has torn its module down
    for engine in _ENGINES.values():
        close = getattr(engine, "close", None)
        if close is not None:
            close()
    _ENGINES.clear()


def get_engine(model_name: str, engine: str, cache_dir: Path, batch: int = 1) -> Engine:
    """A loaded engine for a bundled model, shared by the calls of this process (the weights never change).

    `batch` > 1 (llama.cpp only): up to that many greedy calls decoded together."""
    key = (model_name, engine, str(cache_dir), batch)
    with _ENGINES_LOCK:
        if key not in _ENGINES:
            _ENGINES[key] = ENGINE_TYPES[engine](model_name, cache_dir, batch)
        return _ENGINES[key]


class LocalProvider(CustomLLM):
    """The `local/` provider: renders chat messages for the bundled model and generates."""

    def __init__(self, cache_dir: Path, engine: str, batch: int = 1) -> None:
        super().__init__()
        self.cache_dir = cache_dir
        self.engine = engine
        self.batch = batch

    def _run(
        self, model: str, messages: list[dict[str, Any]], params: dict[str, Any], response: ModelResponse
    ) -> ModelResponse:
        name = model.split("/", 1)[1] if model.startswith(PROVIDER + "/") else model
        spec = local_model(name)
        engine = get_engine(name, self.engine, self.cache_dir, self.batch)
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


def register(cache_dir: Path, engine: str = "auto", batch: int = 1) -> str:
    """Register the `local/` provider with LiteLLM; returns the engine that will run.

    `batch`: how many greedy calls llama.cpp decodes together (`llm.local_batch`; give the provider
    at least as much concurrency, `llm.concurrency.local`)."""
    litellm_module()  # quieted before its first call
    chosen = resolve_engine(engine)
    handler = LocalProvider(cache_dir, chosen, max(1, int(batch)))
    others = [p for p in litellm.custom_provider_map if p.get("provider") != PROVIDER]
    litellm.custom_provider_map = [*others, {"provider": PROVIDER, "custom_handler": handler}]
    from litellm.utils import custom_llm_setup

    custom_llm_setup()
    return chosen
