"""Async LLM calls through LiteLLM, with everything that spends money under control.

An `LLMSession` (one per stage) gives every call: a content-hash disk cache (a rerun makes no
repeated call), a concurrency limit per provider, retries with exponential backoff on rate limits,
timeouts, connection errors, 5xx and malformed bodies, cost and token accounting per model, a cost
ledger (JSONL) and a budget that stops the stage cleanly before the call that would exceed it. A
call that still fails after its retries is raised, never dropped: the batch's other answers are
cached first, so rerunning the same command resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compress.infra.console import Steps
from compress.infra.errors import CompressError
from compress.infra.llm.cache import CallCache, request_key
from compress.infra.llm.costs import cost_usd, price_per_token
from compress.infra.llm.retry import endpoint_kwargs, error_classes, litellm_module, with_retries

# LiteLLM takes seconds to import: it is loaded (quieted, see `litellm_module`) on the first call, so
# that what imports this module without calling a model (the compress CLI, the server) starts fast.


@dataclass
class ChatRequest:
    """One chat call; `key` lets the caller find its answer."""

    key: str
    model: str
    messages: list[dict[str, str]]
    max_tokens: int = 256
    temperature: float = 0.0
    stop: list[str] = field(default_factory=list)

    def cache_key(self) -> str:
        """Content hash of everything that decides the answer."""
        return request_key(
            {
                "model": self.model,
                "messages": self.messages,
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
                "stop": self.stop,
            }
        )


@dataclass
class ChatResult:
    """The answer to a ChatRequest, with token counts, cost and attempts (0 when cached)."""

    key: str
    model: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    cost_usd: float = 0.0
    cached: bool = False


class LLMCallFailed(CompressError):
    """A call failed after every retry; the stage stops instead of dropping the sample."""


class BudgetExceeded(CompressError):
    """The next call would take spending past `llm.budget_usd`."""


@dataclass
class LLMSettings:
    """How calls are made: from the `llm` config node."""

    cache_path: Path | None = None
    ledger_path: Path | None = None
    budget_usd: float | None = None
    concurrency: Mapping[str, int] = field(default_factory=lambda: {"default": 4})
    max_retries: int = 4
    base_delay_s: float = 1.0
    timeout_s: float = 120.0
    prices: Mapping[str, Any] = field(default_factory=dict)
    endpoints: Mapping[str, Any] = field(default_factory=dict)
    stage: str = ""

    @classmethod
    def from_config(cls, llm_cfg: Any, stage: str, run_dir: Path | None) -> LLMSettings:
        """Settings from `cfg.llm` for one stage."""
        from omegaconf import OmegaConf

        plain: dict[str, Any] = OmegaConf.to_container(llm_cfg, resolve=True)  # type: ignore[assignment]
        return cls(
            cache_path=Path(plain["cache_path"]) if plain.get("cache") and plain.get("cache_path") else None,
            ledger_path=run_dir / "llm_ledger.jsonl" if run_dir is not None else None,
            budget_usd=plain.get("budget_usd"),
            concurrency=plain.get("concurrency") or {"default": 4},
            max_retries=int(plain.get("max_retries", 4)),
            base_delay_s=float(plain.get("base_delay_s", 1.0)),
            timeout_s=float(plain.get("timeout_s", 120.0)),
            prices=plain.get("prices") or {},
            endpoints=plain.get("endpoints") or {},
            stage=stage,
        )


@dataclass
class ModelStats:
    """Calls, cache hits, tokens and cost of one model in a session."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0


class LLMSession:
    """Cache, concurrency limits, spending and ledger shared by the calls of one stage."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.cache = CallCache(settings.cache_path) if settings.cache_path else None
        self.stats: dict[str, ModelStats] = defaultdict(ModelStats)
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._spent = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()

    # -- accounting ---------------------------------------------------------------------------
    @property
    def spent_usd(self) -> float:
        """Money spent on calls in this session (cache hits cost nothing)."""
        return self._spent

    def _price(self, model: str) -> tuple[float, float] | None:
        return price_per_token(model, self.settings.prices)

    def _estimate(self, req: ChatRequest) -> float:
        price = self._price(req.model)
        if price is None:
            return 0.0
        try:
            prompt = litellm_module().token_counter(model=req.model, messages=req.messages)
        except Exception:
            prompt = sum(len(m.get("content", "")) for m in req.messages) // 3
        return cost_usd(price, prompt, req.max_tokens)

    def _reserve(self, req: ChatRequest) -> float:
        estimate = self._estimate(req)
        budget = self.settings.budget_usd
        with self._lock:
            if budget is not None and self._spent + self._reserved + estimate > budget:
                raise BudgetExceeded(
                    f"llm.budget_usd={budget} would be exceeded by the next call to {req.model} "
                    f"(spent ${self._spent:.4f}, in flight ${self._reserved:.4f}, this call up to ${estimate:.4f}). "
                    "Every answer so far is cached: raise llm.budget_usd and rerun the same command to continue."
                )
            self._reserved += estimate
        return estimate

    def _settle(self, estimate: float, actual: float) -> None:
        with self._lock:
            self._reserved -= estimate
            self._spent += actual

    def _ledger(self, req: ChatRequest, result: ChatResult, seconds: float, queued: float = 0.0) -> None:
        """One ledger line; `seconds` is the call itself, `queued_s` the wait for a concurrency slot."""
        if self.settings.ledger_path is None:
            return
        row = {
            "time": round(time.time(), 3),
            "stage": self.settings.stage,
            "model": req.model,
            "request": req.cache_key()[:16],
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cost_usd": result.cost_usd,
            "priced": self._price(req.model) is not None,
            "cached": result.cached,
            "attempts": result.attempts,
            "seconds": round(seconds, 4),
            "queued_s": round(queued, 4),
        }
        with self._lock:
            self.settings.ledger_path.parent.mkdir(parents=True, exist_ok=True)
            with self.settings.ledger_path.open("a") as fh:
                fh.write(json.dumps(row) + "\n")

    def summary(self) -> dict[str, Any]:
        """Per-model and total calls, cache hits, tokens and cost, named for W&B (`llm/...`)."""
        out: dict[str, Any] = {}
        for model, s in self.stats.items():
            for k, v in vars(s).items():
                out[f"llm/{k}/{model}"] = v
        for k in ("calls", "cache_hits", "prompt_tokens", "completion_tokens", "cost_usd", "retries"):
            out[f"llm/{k}"] = sum(getattr(s, k) for s in self.stats.values())
        return out

    # -- calls --------------------------------------------------------------------------------
    def _semaphore(self, model: str) -> asyncio.Semaphore:
        provider = model.split("/", 1)[0]
        if provider not in self._sems:
            limits = self.settings.concurrency
            self._sems[provider] = asyncio.Semaphore(
                max(1, int(limits.get(provider, limits.get("default", 4))))
            )
        return self._sems[provider]

    async def chat(self, req: ChatRequest) -> ChatResult:
        """One call: from the cache, or under the provider's limit with backoff, within the budget."""
        key = req.cache_key()
        stats = self.stats[req.model]
        t0 = time.perf_counter()
        if (result := self._cached(req, key)) is not None:
            self._ledger(req, result, time.perf_counter() - t0)
            return result
        async with self._semaphore(req.model):
            queued = time.perf_counter() - t0
            # while this call waited for a slot, the same question may have been answered (by a twin
            # request here, or another sweep job sharing the cache): do not pay for it twice
            if (result := self._cached(req, key)) is not None:
                self._ledger(req, result, time.perf_counter() - t0 - queued, queued)
                return result
            t0 = time.perf_counter()
            estimate = self._reserve(req)
            try:
                result = await _call_with_retries(req, self.settings)
            except BaseException:
                self._settle(estimate, 0.0)
                raise
            result.cost_usd = cost_usd(self._price(req.model), result.prompt_tokens, result.completion_tokens)
            self._settle(estimate, result.cost_usd)
        stats.calls += 1
        stats.retries += result.attempts - 1
        stats.prompt_tokens += result.prompt_tokens
        stats.completion_tokens += result.completion_tokens
        stats.cost_usd += result.cost_usd
        if self.cache is not None:
            self.cache.put(
                key, req.model, result.text, result.prompt_tokens, result.completion_tokens, result.cost_usd
            )
        self._ledger(req, result, time.perf_counter() - t0, queued)
        return result

    def _cached(self, req: ChatRequest, key: str) -> ChatResult | None:
        if self.cache is None or (hit := self.cache.get(key)) is None:
            return None
        self.stats[req.model].cache_hits += 1
        return ChatResult(
            req.key, req.model, hit["text"], hit["prompt_tokens"], hit["completion_tokens"], 0, 0.0, True
        )

    async def chat_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        """All calls concurrently (each provider under its limit), in request order, with a progress bar.

        Every call runs to its end before the first failure is raised, so all answers obtained are cached.
        """

        async def one(req: ChatRequest, progress: Steps) -> ChatResult:
            try:
                return await self.chat(req)
            finally:
                progress.advance()

        with Steps(label, len(requests), "calls") as progress:
            results = await asyncio.gather(*(one(r, progress) for r in requests), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            budget = [e for e in errors if isinstance(e, BudgetExceeded)]
            raise (budget or errors)[0]
        return [r for r in results if isinstance(r, ChatResult)]

    def run_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        """Synchronous wrapper for stage code."""
        self._sems = {}  # semaphores belong to the event loop that asyncio.run creates
        return asyncio.run(self.chat_many(requests, label))


async def _call_with_retries(req: ChatRequest, settings: LLMSettings) -> ChatResult:
    endpoint = endpoint_kwargs(req.model, settings.endpoints)

    litellm = litellm_module()
    # failures worth another try, and the subclasses of those that another try cannot fix
    retryable, final = error_classes()

    async def once() -> tuple[Any, str]:
        resp: Any = await litellm.acompletion(
            model=req.model,
            messages=req.messages,
            max_tokens=req.max_tokens,
            temperature=req.temperature,
            stop=req.stop or None,
            timeout=settings.timeout_s,
            num_retries=0,
            **endpoint,
        )
        text = resp.choices[0].message.content
        if text is None:
            raise litellm.APIError(500, "the answer had no content", "compress", req.model)
        return resp, text

    try:
        (resp, text), attempts = await with_retries(once, settings)
    except final:
        raise
    except retryable as exc:
        raise LLMCallFailed(
            f"{req.model}: request {req.key} failed {settings.max_retries + 1} times ({type(exc).__name__}: {str(exc)[:300]}). "
            "Every other answer is cached and earlier stages' outputs are kept; rerun the same command to resume."
        ) from exc
    usage = getattr(resp, "usage", None)
    return ChatResult(
        key=req.key,
        model=req.model,
        text=text,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        attempts=attempts,
    )
