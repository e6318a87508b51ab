"""LiteLLM's proxy: compress the chat messages a config selects before LiteLLM calls the model, as a
`CustomLogger` callback (the optional extra: pip install 'compress[litellm-proxy]').

The proxy's `config.yaml` names the module-level instance, which reads its settings from the
environment of the proxy process:

```yaml
litellm_settings:
  callbacks: compress.integrations.litellm.proxy_handler_instance
```

    COMPRESS_SPEC=bm25 COMPRESS_RATE=0.5 litellm --config config.yaml

- `COMPRESS_SPEC`: the compressor (a package dir, a run dir or a baseline name); unset: every
  request passes through, and the hook says so once in the log.
- `COMPRESS_CONFIG`: a proxy YAML as `compress serve --config` reads; its `proxy:` section chooses the
  messages and the budget (`fail_closed` and `llm` are the compress server's own: LiteLLM calls the
  model, and the hook always fails open).
- `COMPRESS_RATE`, `COMPRESS_TARGET_TOKENS`, `COMPRESS_MIN_CHARS`, `COMPRESS_ROLES` (comma-separated),
  `COMPRESS_DOMAIN` (json, log, listing, nl, code or memory; unset: each text routed by its shape):
  override those fields of the `proxy:` section.
- `COMPRESS_ENGINE`, `COMPRESS_DEVICE`, `COMPRESS_WORKER` (process | thread), `COMPRESS_LOAD_WAIT_S`
  (how long the first requests wait for the compressor to load before passing through; default 60),
  `COMPRESS_CACHE` (the model cache).

The messages are chosen by the same rules as compress's own proxy (`compress.serve.proxy.select`:
`<compress>` spans, per-message `"compress": true/false` markers, roles and length, the last user
message kept and used as the query, a long chat history compressed as one context: `proxy.history`
in `COMPRESS_CONFIG`), and a request's own `"compress": {"rate": ..., "target_tokens": ..., "domain":
..., "enabled": false}` overrides the budget or the domain; those fields never reach the model. Tool
results are handled as the proxy does (`compress.serve.proxy`'s docstring): routed by shape (a log, a
JSON answer, a listing get their lossless compaction and `[… N lines like "..." · id ID]` markers),
compressed for the last user message plus the call that produced them, the call's own arguments left
as they are. The summary names each text's domain and its markers' ids; `CompressHook.expand(id)`
gives back the lines a marker stands for (the compressor, and so its cache of dropped lines, lives
in this proxy process's worker: LiteLLM's proxy has no route for it, compress's own server has
`POST /v1/expand`). The compressor is
loaded once, in a worker process by default (`compress.serve.host.CompressorHost`), so a crash in
native code never takes the proxy down. Anything going wrong passes the request on unchanged and logs
why. What compression did lands in `data["metadata"]["compress"]` (LiteLLM's loggers see it) and in the
response's `x-compress-*` headers.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compress.infra.errors import CompressError, MissingRequirement
from compress.infra.secrets import scrub

try:
    # compress's server parts before LiteLLM: importing compress.infra.llm keeps LiteLLM's model cost map
    # local (LiteLLM would otherwise fetch it from GitHub at import, seconds lost offline)
    from compress.serve.config import ProxySelect, ServeConfig, ServeSettings, load_config
    from compress.serve.host import CompressorHost
    from compress.serve.metrics import Metrics
    from compress.serve.proxy import Overrides, compress_messages, headers

    from litellm.integrations.custom_logger import CustomLogger  # isort: skip
except ImportError as exc:  # the extra is not installed: say how to get it
    raise MissingRequirement(
        "compress.integrations.litellm needs LiteLLM's proxy and compress's server parts: "
        f"pip install 'compress[litellm-proxy]' ({exc})."
    ) from exc

log = logging.getLogger("compress.integrations.litellm")

# the call types whose `data` is a chat request with `messages`
CHAT_CALLS = frozenset({"completion", "acompletion"})


# the variable behind each setting, to name it in an error
ENV = {
    "spec": "COMPRESS_SPEC",
    "engine": "COMPRESS_ENGINE",
    "device": "COMPRESS_DEVICE",
    "worker": "COMPRESS_WORKER",
    "cache_dir": "COMPRESS_CACHE",
    "load_wait_s": "COMPRESS_LOAD_WAIT_S",
    "rate": "COMPRESS_RATE",
    "target_tokens": "COMPRESS_TARGET_TOKENS",
    "min_chars": "COMPRESS_MIN_CHARS",
    "roles": "COMPRESS_ROLES",
    "domain": "COMPRESS_DOMAIN",
    "proxy": "COMPRESS_CONFIG (proxy:), COMPRESS_RATE or COMPRESS_TARGET_TOKENS",
}


class HookSettings(BaseModel):
    """What the hook runs with: the compressor, where it runs, and which messages it compresses."""

    model_config = ConfigDict(extra="forbid")

    spec: str | None = None
    engine: str = "auto"
    device: str = "cpu"
    worker: Literal["process", "thread"] = "process"
    cache_dir: Path | None = None
    load_wait_s: float = Field(default=60.0, ge=0)
    proxy: ProxySelect = Field(default_factory=ProxySelect)


def settings_from_env(environ: Mapping[str, str]) -> HookSettings:
    """The hook's settings from `COMPRESS_*` variables (see the module's docstring); CompressError
    naming the variable when one is malformed."""
    rules = load_config(Path(environ["COMPRESS_CONFIG"])).proxy if environ.get("COMPRESS_CONFIG") else None
    fields = (rules or ProxySelect()).model_dump()
    if environ.get("COMPRESS_TARGET_TOKENS"):
        # a target replaces the default rate unless the environment also gives one (then both: an error)
        fields["target_tokens"], fields["rate"] = environ["COMPRESS_TARGET_TOKENS"], None
    if environ.get("COMPRESS_RATE"):
        fields["rate"] = environ["COMPRESS_RATE"]
    if environ.get("COMPRESS_MIN_CHARS"):
        fields["min_chars"] = environ["COMPRESS_MIN_CHARS"]
    if environ.get("COMPRESS_ROLES"):
        fields["roles"] = [r.strip() for r in environ["COMPRESS_ROLES"].split(",") if r.strip()]
    if environ.get("COMPRESS_DOMAIN"):
        fields["domain"] = environ["COMPRESS_DOMAIN"].strip()
    top = {
        "spec": environ.get("COMPRESS_SPEC") or None,
        "engine": environ.get("COMPRESS_ENGINE") or "auto",
        "device": environ.get("COMPRESS_DEVICE") or "cpu",
        "worker": environ.get("COMPRESS_WORKER") or "process",
        "cache_dir": environ.get("COMPRESS_CACHE") or None,
        "load_wait_s": environ.get("COMPRESS_LOAD_WAIT_S") or 60.0,
    }
    try:
        return HookSettings.model_validate(top | {"proxy": fields})
    except ValidationError as exc:
        problems = "; ".join(
            f"{ENV.get(str(e['loc'][-1]), ENV.get(str(e['loc'][0]), ''))}: {e['msg']}" for e in exc.errors()
        )
        raise CompressError(f"the compress hook's environment: {problems}.") from exc


class CompressHook(CustomLogger):
    """A LiteLLM proxy callback that compresses the selected chat messages before the model is called.

    Build it with settings (`CompressHook(HookSettings(spec="bm25"))`) or from the environment
    (`CompressHook.from_env()`); a hook given `error` (its settings could not be read) passes every
    request through."""

    def __init__(self, settings: HookSettings | None = None, error: str | None = None) -> None:
        super().__init__()
        self.settings = settings or HookSettings()
        self.error = error
        self.metrics = Metrics()
        self._host: CompressorHost | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._said_unset = False
        try:
            # built inside the proxy's running loop (LiteLLM imports callbacks at startup): start
            # loading now, so the first request does not wait for the whole load
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if self.settings.spec and not self.error:
            try:
                self._started_host()
            except Exception as exc:  # the first request tries again
                log.error("compress hook could not start loading: %s", scrub(f"{type(exc).__name__}: {exc}"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CompressHook:
        """The hook configured by `COMPRESS_*` variables (default: this process's environment); a hook
        that passes everything through, the problem logged, when they are malformed."""
        try:
            return cls(settings_from_env(os.environ if environ is None else environ))
        except CompressError as exc:
            message = scrub(str(exc))
            log.error("compress hook disabled, requests pass through unchanged: %s", message)
            return cls(error=message)

    def _started_host(self) -> CompressorHost:
        """The compressor's host for the running loop, created and started on first use (it loads in
        the background; a host bound to another, finished loop is replaced)."""
        loop = asyncio.get_running_loop()
        if self._host is None or self._loop is not loop:
            s = self.settings
            assert s.spec is not None
            serve = ServeSettings(
                spec=s.spec,
                engine=s.engine,
                device=s.device,
                cache_dir=s.cache_dir,
                worker=s.worker,
                config=ServeConfig(fail_closed=False, proxy=s.proxy),
            )
            self._host, self._loop = CompressorHost(serve, self.metrics), loop
            self._host.start()
        return self._host

    async def compress_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """`data` with its selected messages compressed and `metadata["compress"]` set; raises on any
        problem (the hook turns that into a passthrough)."""
        raw = data.pop("compress", None)
        over = Overrides.model_validate(raw if raw is not None else {})
        if self.error or not self.settings.spec:
            # settings that could not be read were logged when the hook was built
            if not self.error and not self._said_unset:
                log.warning("COMPRESS_SPEC is not set: the compress hook passes every request through")
                self._said_unset = True
            reason = "failed" if self.error else "unconfigured"
            _metadata(data)["compress"] = {"status": "passthrough", "segments": 0, "reason": reason}
            return data
        host = self._started_host()
        await host.wait_loaded(self.settings.load_wait_s)
        messages, info = await compress_messages(data["messages"], self.settings.proxy, over, host)
        # a failed load or compressor is logged by the host, once per event, not per request here
        data["messages"] = messages
        _metadata(data)["compress"] = info
        return data

    async def expand(self, marker_id: str) -> str:
        """The exact text a marker (`· id ID]`) of a request this hook compressed stands for; raises
        CompressError when the id is unknown or was evicted from the compressor's bounded cache, or
        when no compressor runs here (no spec, or it belongs to another event loop)."""
        host = self._host
        if self.error or host is None or self._loop is not asyncio.get_running_loop():
            raise CompressError(f"id {marker_id!r}: unknown; this hook has no compressor running here.")
        return await host.expand(marker_id)

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: Any
    ) -> dict[str, Any]:
        """LiteLLM's proxy calls this before the model: the request with its selected messages
        compressed, or, when anything goes wrong, the request as it came (the error logged)."""
        if call_type not in CHAT_CALLS or not isinstance(data.get("messages"), list):
            return data
        original = data.get("messages")
        try:
            return await self.compress_request(data)
        except Exception as exc:
            log.error(
                "compress hook failed, the request passes through unchanged: %s",
                scrub(f"{type(exc).__name__}: {exc}"),
            )
            data["messages"] = original
            _metadata(data)["compress"] = {"status": "passthrough", "segments": 0, "reason": "hook_error"}
            return data

    async def async_post_call_response_headers_hook(
        self,
        data: dict[str, Any],
        user_api_key_dict: Any,
        response: Any,
        request_headers: dict[str, str] | None = None,
        litellm_call_info: dict[str, object] | None = None,
    ) -> dict[str, str] | None:
        """The `x-compress-*` response headers of what the pre-call hook did (none if it did nothing)."""
        try:
            metadata = data.get("metadata")
            info = metadata.get("compress") if isinstance(metadata, dict) else None
            return headers(info) if isinstance(info, dict) else None
        except Exception as exc:  # a header is never worth failing a request for
            log.error("compress hook could not set its headers: %s", scrub(f"{type(exc).__name__}: {exc}"))
            return None


def _metadata(data: dict[str, Any]) -> dict[str, Any]:
    """The request's LiteLLM metadata (created when the caller sent none)."""
    meta = data.get("metadata")
    if not isinstance(meta, dict):
        meta = data["metadata"] = {}
    return meta


# what `litellm_settings: callbacks:` names in the proxy's config.yaml
proxy_handler_instance = CompressHook.from_env()
