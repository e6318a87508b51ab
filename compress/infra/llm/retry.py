"""What every provider call shares: LiteLLM (quieted), which failures deserve another try, backoff,
the kwargs of a configured OpenAI-compatible endpoint.

Importing this module does not import LiteLLM (seconds of import time): the HTTP server imports it
at startup and answers at once; LiteLLM comes in on the first call (or a background warm-up).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Awaitable, Callable, Mapping
from functools import lru_cache
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


@lru_cache(maxsize=1)
def litellm_module() -> Any:
    """LiteLLM, imported once, with no debug banner, no telemetry and no INFO line per call."""
    import litellm

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    # Hydra sets the root logger to INFO; LiteLLM would log every call there.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return litellm


@lru_cache(maxsize=1)
def error_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(retryable, final): failures worth another try (the provider was busy, slow, briefly broken or
    answered garbage), and the subclasses of those that another try cannot fix."""
    litellm = litellm_module()
    retryable = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.APIConnectionError,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
        litellm.APIError,
    )
    final = (
        litellm.AuthenticationError,
        litellm.BadRequestError,
        litellm.NotFoundError,
        litellm.PermissionDeniedError,
        litellm.ContextWindowExceededError,
    )
    return retryable, final


class RetryPolicy(Protocol):
    """How often and how patiently to try (the `llm` config's `max_retries`, `base_delay_s`)."""

    max_retries: int
    base_delay_s: float


def backoff_s(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, with jitter."""
    return policy.base_delay_s * 2 ** (attempt - 1) * (1 + random.random() * 0.25)


async def with_retries(call: Callable[[], Awaitable[T]], policy: RetryPolicy) -> tuple[T, int]:
    """`await call()` until it succeeds, retrying the retryable failures (not the final ones) up to
    `policy.max_retries` times with backoff; its result and the attempts it took.

    The last failure is raised as it is: the caller words the error for its own audience."""
    retryable, final = error_classes()
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call(), attempt
        except final:
            raise
        except retryable:
            if attempt > policy.max_retries:
                raise
            await asyncio.sleep(backoff_s(policy, attempt))


def endpoint_kwargs(model: str, endpoints: Mapping[str, Any]) -> dict[str, Any]:
    """api_base and api_key for a model served by a configured OpenAI-compatible server."""
    ep = endpoints.get(model)
    if not ep:
        return {}
    env = ep.get("api_key_env")
    # such servers often take any key; the OpenAI client insists on one
    return {"api_base": ep["api_base"], "api_key": os.environ.get(env, "") if env else "no-key-needed"}
