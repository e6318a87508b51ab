"""Async LLM calls through LiteLLM: a semaphore per batch, retries with backoff, no dropped samples."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import litellm
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from compress.errors import CompressError

# Failures worth another try: the provider was busy, slow or briefly broken.
RETRYABLE: tuple[type[BaseException], ...] = (
    litellm.RateLimitError,
    litellm.Timeout,
    litellm.APIConnectionError,
    litellm.InternalServerError,
    litellm.ServiceUnavailableError,
)

litellm.suppress_debug_info = True
litellm.telemetry = False
# Hydra sets the root logger to INFO; LiteLLM would log every call there.
for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass
class ChatRequest:
    """One chat call; `key` lets the caller find its answer."""

    key: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] = field(default_factory=list)


@dataclass
class ChatResult:
    """The answer to a ChatRequest, with token counts and attempts."""

    key: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int


class LLMCallFailed(CompressError):
    """A call failed after every retry; the stage stops instead of dropping the sample."""


async def chat(
    req: ChatRequest, max_retries: int = 4, base_delay: float = 1.0, timeout: float = 120.0
) -> ChatResult:
    """One call with exponential backoff on rate limits, timeouts, connection errors and 5xx."""
    attempt = 0
    while True:
        attempt += 1
        try:
            resp: Any = await litellm.acompletion(
                model=req.model,
                messages=req.messages,
                max_tokens=req.max_tokens,
                temperature=req.temperature,
                stop=req.stop or None,
                timeout=timeout,
                num_retries=0,
            )
            usage = getattr(resp, "usage", None)
            return ChatResult(
                key=req.key,
                model=req.model,
                text=resp.choices[0].message.content or "",
                prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                attempts=attempt,
            )
        except RETRYABLE as exc:
            if attempt > max_retries:
                raise LLMCallFailed(
                    f"{req.model}: request {req.key} failed {attempt} times ({type(exc).__name__}: {exc}). "
                    "Earlier stages' outputs are kept; rerun the same command to resume."
                ) from exc
            await asyncio.sleep(base_delay * 2 ** (attempt - 1) * (1 + random.random() * 0.25))


async def chat_many(
    requests: Sequence[ChatRequest], concurrency: int, label: str = "LLM calls", **kwargs: Any
) -> list[ChatResult]:
    """Run calls concurrently under a semaphore, in request order, with a progress bar."""
    sem = asyncio.Semaphore(max(1, concurrency))
    progress = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )

    async def one(req: ChatRequest, task: Any) -> ChatResult:
        async with sem:
            result = await chat(req, **kwargs)
        progress.advance(task)
        return result

    with progress:
        task = progress.add_task(label, total=len(requests))
        return list(await asyncio.gather(*(one(r, task) for r in requests)))


def run_chat_many(
    requests: Sequence[ChatRequest], concurrency: int, label: str = "LLM calls", **kwargs: Any
) -> list[ChatResult]:
    """Synchronous wrapper for stage code."""
    return asyncio.run(chat_many(requests, concurrency, label, **kwargs))
