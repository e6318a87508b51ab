"""What the server is told: its command-line settings and the proxy config file.

The proxy config (`--config proxy.yaml`, every key optional) says which chat messages the proxy
compresses, how, and how it calls the provider:

```yaml
fail_closed: false        # the compressor raised: false = forward / answer uncompressed; true = 503
proxy:
  roles: [user, tool]     # messages of these roles are compressed (tool: the legacy function role too) ...
  min_chars: 2000         # ... when at least this long
  keep_last_user: true    # the last user message (the question) stays as written
  spans: true             # <compress>...</compress> spans are compressed in any message, tags removed
  rate: 0.5               # or target_tokens: N (per message or span; the history's: all its messages)
  target_tokens: null
  query: last_user        # query-aware compressors get the last user message (none: no query); a
                          # tool result also its call's name and arguments
  domain: null            # null: each text routed (a tool output's shape: json, log, listing; else
                          # code, memory, nl); a name compresses every text taken on its own as that
  history:                # a long chat history compressed as ONE context (a joint-capable compressor)
    enabled: true
    min_tokens: 1500      # ... when its messages hold at least this many tokens together (cl100k)
    keep_last: 2          # the last N messages are never part of it (they reach the model as written)
llm:                      # as the pipeline's `llm` node: retries with backoff, timeout, endpoints
  max_retries: 2
  base_delay_s: 0.5
  timeout_s: 60
  concurrency: {default: 64}
  endpoints: {}           # {"openai/my-model": {api_base: "http://...", api_key_env: MY_KEY}}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from compress.algorithms.compressors.base import check_budget
from compress.algorithms.data.domains import DOMAINS
from compress.algorithms.structured import TOOL_SHAPES
from compress.infra.errors import CompressError

API_KEY_ENV = "COMPRESS_API_KEY"
# what a config's or a request's `domain` may name: the text domains and the tool outputs' shapes
DOMAIN_NAMES = (*DOMAINS, *TOOL_SHAPES)


def check_domain(domain: str | None) -> str | None:
    """`domain` when it is None (routed) or one of DOMAIN_NAMES; a ValueError naming the choices."""
    if domain is not None and domain not in DOMAIN_NAMES:
        raise ValueError(
            f"domain {domain!r} is unknown; choose from {', '.join(DOMAIN_NAMES)} (or null to route each text)"
        )
    return domain


class ProxyHistory(BaseModel):
    """The chat-history path: the earlier turns of a conversation compressed together, one budget.

    The history is every message before the last `keep_last` except system/developer messages, tool
    calls and their results (`tool_calls`, role `tool`/`function`), messages with `<compress>` spans or
    a `compress` mark, and the last user message (the query). When their text totals at least
    `min_tokens` (cl100k tokens, the counter the server itself holds), they are compressed jointly with
    the proxy's rate (of their tokens together) or target_tokens (for all of them); a message none of
    whose text is kept is removed. A compressor that cannot compress jointly falls back to the
    per-message rules (`reason: history_not_joint`)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_tokens: int = Field(default=1500, ge=0)
    keep_last: int = Field(default=2, ge=1)


class ProxySelect(BaseModel):
    """Which messages of a chat request the proxy compresses, and to what budget."""

    model_config = ConfigDict(extra="forbid")

    roles: list[str] = Field(default_factory=lambda: ["user", "tool"])
    min_chars: int = Field(default=2000, ge=0)
    keep_last_user: bool = True
    spans: bool = True
    rate: float | None = Field(default=0.5, gt=0, le=1)
    target_tokens: int | None = Field(default=None, ge=1)
    query: Literal["last_user", "none"] = "last_user"
    # None: each text routed by its shape and rules; a name: the domain of every text compressed on
    # its own (tool results, long messages, spans; the history is one context, routed as one)
    domain: str | None = None
    history: ProxyHistory = Field(default_factory=ProxyHistory)

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, domain: str | None) -> str | None:
        return check_domain(domain)

    @model_validator(mode="after")
    def _one_budget(self) -> ProxySelect:
        try:
            check_budget(self.rate, self.target_tokens)
        except CompressError as exc:
            raise ValueError(f"proxy.rate, proxy.target_tokens: {exc} Set the other to null.") from exc
        return self


class ProxyLLM(BaseModel):
    """How the proxy calls providers: the pipeline's `llm` settings that apply to a forwarded call."""

    model_config = ConfigDict(extra="forbid")

    max_retries: int = Field(default=2, ge=0)
    base_delay_s: float = Field(default=0.5, ge=0)
    timeout_s: float = Field(default=60.0, gt=0)
    concurrency: dict[str, int] = Field(default_factory=lambda: {"default": 64})
    endpoints: dict[str, dict[str, str]] = Field(default_factory=dict)


class ServeConfig(BaseModel):
    """The proxy config file."""

    model_config = ConfigDict(extra="forbid")

    fail_closed: bool = False
    proxy: ProxySelect = ProxySelect()
    llm: ProxyLLM = ProxyLLM()


def load_config(path: Path | None) -> ServeConfig:
    """The config in `path` (None: the defaults); a clear error naming the file and the field."""
    if path is None:
        return ServeConfig()
    if not path.is_file():
        raise CompressError(f"--config {path}: no such file; pass the path of a proxy YAML file.")
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CompressError(f"--config {path}: not readable YAML ({exc}); fix the file.") from exc
    if not isinstance(data, dict):
        raise CompressError(f"--config {path}: the file must hold a mapping (fail_closed, proxy, llm).")
    try:
        return ServeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise CompressError(f"--config {path}: {problems}.") from exc


class ServeSettings(BaseModel):
    """Everything the server runs with: the command line, the config file and the API key."""

    spec: str
    engine: str = "auto"
    device: str = "cpu"
    cache_dir: Path | None = None
    worker: Literal["process", "thread"] = "process"
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1)
    max_texts: int = Field(default=256, ge=1)
    max_pending: int = Field(default=1024, ge=1)
    api_key: str | None = None
    config: ServeConfig = Field(default_factory=ServeConfig)
