"""The OpenAI-compatible proxy: compress the chat messages the config selects, forward through LiteLLM.

Which text is compressed (`proxy:` in the config, `compress.serve.config.ProxySelect`):
- spans a caller wraps in `<compress>...</compress>`, in any message (the tags never reach the model);
- a message marked `"compress": true` (whole), never one marked `"compress": false`;
- a long chat history (`history`): the messages before the last `history.keep_last`, except system /
  developer messages, tool calls and their results, marked messages and the last user message,
  compressed as ONE context (one budget over their tokens together, the last user message the query)
  when they hold at least `history.min_tokens` tokens and the compressor compresses jointly; a
  message with nothing kept is removed (`select_history`);
- otherwise messages whose role is in `roles` and whose text is at least `min_chars` long, except the
  last user message when `keep_last_user` (it usually holds the question); `tool` in `roles` covers
  the legacy `function` role too.
A request may carry `"compress": {"rate": ..., "target_tokens": ..., "domain": ..., "enabled": false}`
to override the config's budget or domain, or turn compression off; these fields are removed before
the call. Everything else in the request goes to the provider as it came (LiteLLM maps it), keys from
the environment.

Tool results (role `tool`, or the legacy `function`) are what an agent's context fills up with: a log,
a JSON answer, a directory listing. Each goes to the compressor on its own, routed by its shape
(json, log, listing: a lossless compaction, then runs of like lines replaced by markers
`[… N lines like "..." · id ID]`; else code, memory or nl), unless the request or the config names a
`domain`. Its query is the last user message plus the call that produced it: the assistant's tool
call whose `id` is the result's `tool_call_id` (`function.name` and `function.arguments`; for a
`function` message, the latest `function_call` of the same `name`), so a query-aware compressor keeps
what the call asked for. The summary (the `compress` field, `x-compress-*` headers) names each text's
routed domain and its markers' ids; `POST /v1/expand` with an id gives back the exact lines it
replaced, for an agent that needs them after all.

An assistant message's own tool calls are never compressed: their `arguments` (a file being written,
a query being run) are what the model decided, the tool runs on them as they are, and they read best
as the query of the result they produced; a long one is cut to `CALL_QUERY_CHARS` in that query.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from compress.algorithms.compressors.base import check_budget
from compress.infra.errors import CompressError
from compress.infra.llm.retry import endpoint_kwargs, error_classes, litellm_module, with_retries
from compress.infra.llm.tokens import count_cl100k
from compress.infra.secrets import scrub
from compress.serve.config import ProxySelect, ServeConfig, check_domain
from compress.serve.host import CompressorHost, Outcome, Result
from compress.serve.http import HTTPProblem, validation_problem
from compress.serve.metrics import Metrics

# The OpenAI chat-completions parameters passed on. Anything else (LiteLLM's own api_base, api_key,
# headers, mock_response ...) would let a caller redirect the server's provider key: refused by name.
PASSED = frozenset(
    {
        "audio",
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "metadata",
        "modalities",
        "n",
        "parallel_tool_calls",
        "prediction",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "service_tier",
        "stop",
        "store",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
        "verbosity",
        "web_search_options",
    }
)
SPAN = re.compile(r"<compress>(.*?)</compress>", re.DOTALL)
ROUTE = "/v1/chat/completions"
# roles never part of the history: the instructions, and tool results (kept paired with their call)
NOT_HISTORY = frozenset({"system", "developer", "tool", "function"})
# the summary's reason when the history was long but not compressed jointly: the compressor has no
# joint capability (`host.joint`), or refused these texts as one context (a selector refuses code)
NOT_JOINT = "history_not_joint"
# the roles whose messages are tool results (`function`: the legacy name of `tool`)
TOOL_ROLES = frozenset({"tool", "function"})
# a tool call's arguments in its result's query are cut here: a query is what was asked, and a call
# writing a file would otherwise make the whole file the query
CALL_QUERY_CHARS = 1000


class Overrides(BaseModel):
    """A request's own `compress` options."""

    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    rate: float | None = Field(default=None, gt=0, le=1)
    target_tokens: int | None = Field(default=None, ge=1)
    # the domain of every text compressed on its own (None: the config's, else routed)
    domain: str | None = None

    @field_validator("domain")
    @classmethod
    def _known_domain(cls, domain: str | None) -> str | None:
        return check_domain(domain)


class Message(BaseModel):
    """The part of a chat message the proxy reads; every other field passes through."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None
    compress: bool | None = None


class ChatBody(BaseModel):
    """The part of a chat request the proxy reads."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    compress: Overrides = Overrides()


@dataclass
class Segment:
    """One text to compress: where it sits (message, content part, span), the text, and the query it
    is compressed for (a tool result's includes its call)."""

    message: int
    part: int | None
    span: tuple[int, int] | None
    text: str
    query: str | None = None


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _parts(content: Any) -> list[tuple[int | None, str]]:
    """A message's texts: (None, the string) or (index, text) of each text part of a list."""
    if isinstance(content, str):
        return [(None, content)]
    if isinstance(content, list):
        return [
            (j, p["text"])
            for j, p in enumerate(content)
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
    return []


def _last_user(messages: list[dict[str, Any]]) -> int | None:
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    return users[-1] if users else None


def select_history(messages: list[dict[str, Any]], rules: ProxySelect) -> list[Segment]:
    """The chat history to compress as one context: one segment per text of each history message (see
    the module's docstring), or none when `history` is off or its text totals under `min_tokens`.

    Tokens are counted with cl100k (`count_cl100k`, the counter the server holds itself; the
    compressor's own tokenizer lives in its worker and counts the budget there)."""
    h = rules.history
    if not h.enabled:
        return []
    last_user = _last_user(messages)
    segments: list[Segment] = []
    for i, m in enumerate(messages[: max(0, len(messages) - h.keep_last)]):
        if (
            i == last_user  # the question: the query, sent as written
            or m.get("role") in NOT_HISTORY
            or m.get("tool_calls")
            or m.get("function_call")
            or m.get("compress") is not None  # marked: the caller decided
        ):
            continue
        parts = [(j, t) for j, t in _parts(m.get("content")) if t.strip()]
        if rules.spans and any(SPAN.search(t) for _, t in parts):
            continue  # its spans are compressed (each on its own), the rest of it stays
        segments += [Segment(i, j, None, t) for j, t in parts]
    if sum(count_cl100k(s.text) for s in segments) < h.min_tokens:
        return []
    return segments


def select(
    messages: list[dict[str, Any]], rules: ProxySelect, skip: frozenset[int] = frozenset()
) -> tuple[list[Segment], str | None]:
    """The segments to compress each on its own (messages in `skip`, the history, left out), and the
    query (the last user message's text) for query-aware compressors; each segment carries its own
    query: a tool result's adds the call that produced it (`call_of`)."""
    last_user = _last_user(messages)
    query = _query(messages, rules)
    segments: list[Segment] = []
    for i, m in enumerate(messages):
        if i in skip:
            continue
        parts = _parts(m.get("content"))
        mark = m.get("compress")
        role = m.get("role")
        own = query
        if rules.query != "none" and role in TOOL_ROLES:
            own = "\n".join(q for q in (query, call_of(messages, i)) if q) or None
        for j, text in parts:
            spans = [s.span(1) for s in SPAN.finditer(text)] if rules.spans else []
            if spans:
                segments += [Segment(i, j, sp, text[sp[0] : sp[1]], own) for sp in spans]
            elif mark is True or (
                mark is None
                and (role in rules.roles or (role == "function" and "tool" in rules.roles))
                and len(text) >= rules.min_chars
                and not (rules.keep_last_user and i == last_user)
            ):
                segments.append(Segment(i, j, None, text, own))
    return segments, query


def call_of(messages: list[dict[str, Any]], i: int) -> str | None:
    """The call a tool result (`messages[i]`) answers, as query text: its function's name and
    arguments (cut to CALL_QUERY_CHARS). A `tool` message's call is the assistant tool call whose `id`
    is its `tool_call_id`; a `function` message's the latest `function_call` of its `name` before it
    (its name alone when none is found). None when nothing matches."""
    m = messages[i]
    if m.get("role") == "tool":
        call_id = m.get("tool_call_id")
        for prev in reversed(messages[:i]):
            calls = prev.get("tool_calls") if isinstance(prev, dict) else None
            for call in calls if isinstance(calls, list) else []:
                if isinstance(call, dict) and call_id is not None and call.get("id") == call_id:
                    return _call_text(call.get("function"))
        return None
    name = m.get("name")
    for prev in reversed(messages[:i]):
        fc = prev.get("function_call") if isinstance(prev, dict) else None
        if isinstance(fc, dict) and fc.get("name") == name:
            return _call_text(fc)
    return name if isinstance(name, str) and name.strip() else None


def _call_text(function: Any) -> str | None:
    """`name arguments` of a call's function (arguments a JSON string, or an object some clients send)."""
    if not isinstance(function, dict):
        return None
    name, args = function.get("name"), function.get("arguments")
    if args is not None and not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    parts = [p.strip() for p in (name, (args or "")[:CALL_QUERY_CHARS]) if isinstance(p, str) and p.strip()]
    return " ".join(parts) or None


def _query(messages: list[dict[str, Any]], rules: ProxySelect) -> str | None:
    """The last user message's text, for query-aware compressors (None when `query: none`)."""
    last_user = _last_user(messages)
    if rules.query == "last_user" and last_user is not None:
        return _text_of(messages[last_user].get("content"))
    return None


def apply(
    messages: list[dict[str, Any]], segments: list[Segment], texts: list[str], spans: bool
) -> list[dict[str, Any]]:
    """The messages with each segment replaced by its compressed text and every `<compress>` tag removed."""
    out = [dict(m) for m in messages]
    for m in out:
        if isinstance(m.get("content"), list):
            m["content"] = [dict(p) if isinstance(p, dict) else p for p in m["content"]]
    # spans right to left within a text, so earlier offsets stay valid
    for seg, new in sorted(zip(segments, texts, strict=True), key=lambda x: -(x[0].span or (0, 0))[0]):
        m = out[seg.message]
        old = m["content"] if seg.part is None else m["content"][seg.part]["text"]
        if seg.span is None:
            value = new
        else:
            start, end = seg.span[0] - len("<compress>"), seg.span[1] + len("</compress>")
            value = old[:start] + new + old[end:]
        if seg.part is None:
            m["content"] = value
        else:
            m["content"][seg.part]["text"] = value
    if spans:  # tags whose span was left as it was still must not reach the model
        for m in out:
            if isinstance(m.get("content"), str):
                m["content"] = SPAN.sub(r"\1", m["content"])
            elif isinstance(m.get("content"), list):
                for p in m["content"]:
                    if isinstance(p, dict) and isinstance(p.get("text"), str):
                        p["text"] = SPAN.sub(r"\1", p["text"])
    for m in out:
        m.pop("compress", None)
    return out


def remove_emptied(
    messages: list[dict[str, Any]], history: list[Segment], texts: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """The messages without the history's emptied text (`texts`, the history's compressed texts): a
    text part with nothing kept is removed, and so is a message left with no content; the others keep
    their order. Also the number of messages removed."""
    emptied: dict[int, set[int | None]] = {}
    for seg, new in zip(history, texts, strict=True):
        if not new.strip():
            emptied.setdefault(seg.message, set()).add(seg.part)
    out, removed = [], 0
    for i, m in enumerate(messages):
        gone = emptied.get(i)
        if gone is not None:
            content = m.get("content")
            if isinstance(content, list):
                m = m | {"content": [p for j, p in enumerate(content) if j not in gone]}
            if not isinstance(content, list) or not m["content"]:
                removed += 1
                continue
        out.append(m)
    return out, removed


def summary(
    outcome: Outcome | None,
    host: CompressorHost,
    seconds: float,
    segments: int,
    history: dict[str, Any] | None = None,
    each: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What compression did to a request: the `compress` field and the `x-compress-*` headers' source.

    A history text with nothing kept (`dropped`) counts as compressed; `history` (when the request's
    history was long enough) says what the history path did; `each` (`segment_results`) what became
    of each text: its message, routed domain, status, tokens and marker ids. `ids` gathers every
    marker id (for `POST /v1/expand`), `domains` the domains routed, in order."""
    results = outcome.results if outcome else []
    compressed = sum(r["status"] in ("compressed", "dropped") for r in results)
    out: dict[str, Any] = {
        "status": "compressed" if compressed else "passthrough",
        "segments": segments,
        "segments_compressed": compressed,
        "tokens_before": sum(r["tokens_before"] for r in results),
        "tokens_after": sum(r["tokens_after"] for r in results),
        "seconds": round(seconds, 4),
        "tokenizer": results[0]["tokenizer"] if results else None,
        "compressor": host.info.get("name", host.settings.spec),
    }
    if outcome is not None and outcome.reason:
        out["reason"] = outcome.reason
    if history is not None:
        out["history"] = history
    if each:
        out["domains"] = list(dict.fromkeys(e["domain"] for e in each))
        out["ids"] = [i for e in each for i in e["ids"]]
        out["results"] = each
    return out


def segment_results(
    messages: list[dict[str, Any]], segments: list[Segment], results: list[Result]
) -> list[dict[str, Any]]:
    """Each segment's result for the summary, without its text: where it sits (message index in the
    request, content part), the message's role, the routed domain, status, tokens, marker ids."""
    out = []
    for seg, r in zip(segments, results, strict=True):
        e: dict[str, Any] = {"message": seg.message, "role": messages[seg.message].get("role")}
        if seg.part is not None:
            e["part"] = seg.part
        e |= {k: r.get(k) for k in ("domain", "status", "tokens_before", "tokens_after")}
        e["ids"] = list(r.get("ids") or [])
        out.append(e)
    return out


def headers(info: dict[str, Any]) -> dict[str, str]:
    """The `x-compress-*` response headers (lists comma-separated: `x-compress-domains`, `x-compress-ids`)."""
    names = ("status", "segments", "tokens_before", "tokens_after", "seconds", "compressor", "reason")
    out = {f"x-compress-{k.replace('_', '-')}": str(info[k]) for k in names if info.get(k) is not None}
    for k in ("domains", "ids"):
        if info.get(k):
            out[f"x-compress-{k}"] = ",".join(str(v) for v in info[k])
    return out


async def compress_messages(
    messages: list[dict[str, Any]], rules: ProxySelect, over: Overrides, host: CompressorHost
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The messages with what `rules` select compressed by `host` (a request's `over` budget and
    domain first), every `<compress>` tag and marker removed, and the summary of what compression did.

    A long chat history (`select_history`) goes to the compressor as one joint call (one budget over
    its messages together, the last user message the query), its emptied messages removed; when the
    host's compressor cannot compress jointly (`host.joint` False), or refuses these texts as one
    context, those messages follow the per-message rules instead, and the summary's reason says
    `history_not_joint`. The other selected texts go each on its own, one call per distinct query (a
    tool result's query names its call), routed by shape unless a domain is given. The host holds one
    compressor for the life of its process (its caches shared by every request): nothing here loads
    or builds one. The compressor failing passes the texts through (`host.compress_failing_open`); the
    proxy and the LiteLLM hook (`compress.integrations.litellm`) both compress through here."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    original = messages
    history = select_history(messages, rules) if over.enabled else []
    if over.rate is not None or over.target_tokens is not None:
        budget: dict[str, Any] = {"rate": over.rate, "target_tokens": over.target_tokens}
    else:
        budget = {"rate": rules.rate, "target_tokens": rules.target_tokens}
    domain = over.domain or rules.domain
    query = _query(messages, rules)
    outcomes: list[Outcome] = []
    joint_results: list[Result] = []
    fallback = False
    if history and host.joint is False:
        fallback = True
    elif history:
        try:
            joint = await host.compress_failing_open(
                [s.text for s in history], budget | {"query": query, "joint": True}, ROUTE, param="compress"
            )
        except HTTPProblem as exc:
            if exc.status != 422:  # fail_closed: the compressor failed
                raise
            # the compressor refused these texts as one context (a selector refuses code): each on its own
            fallback = True
        else:
            outcomes.append(joint)
            joint_results = joint.results
    joint_texts = [r["compressed"] for r in joint_results]
    history_info: dict[str, Any] | None = None
    if fallback:
        history_info = {"messages": len({s.message for s in history}), "joint": False}
        history = []
    skip = frozenset(s.message for s in history)
    segments, _ = select(messages, rules, skip) if over.enabled else ([], None)
    each: list[Result] = []
    if segments:
        # one call per query (most requests: one; each tool result's query names its own call)
        by_query: dict[str | None, list[int]] = {}
        for k, seg in enumerate(segments):
            by_query.setdefault(seg.query, []).append(k)
        found: dict[int, Result] = {}
        for q, ks in by_query.items():
            group = await host.compress_failing_open(
                [segments[k].text for k in ks],
                budget | {"query": q, "domain": domain},
                ROUTE,
                param="compress",
            )
            outcomes.append(group)
            found |= dict(zip(ks, group.results, strict=True))
        each = [found[k] for k in range(len(segments))]
    texts = [r["compressed"] for r in each]
    messages = apply(messages, segments + history, texts + joint_texts, rules.spans)
    if history:
        messages, removed = remove_emptied(messages, history, joint_texts)
        history_info = {
            "messages": len(skip),
            "removed": removed,
            "tokens_before": sum(r["tokens_before"] for r in joint_results),
            "tokens_after": sum(r["tokens_after"] for r in joint_results),
            "joint": True,
        }
    reasons = [o.reason for o in outcomes if o.reason] + ([NOT_JOINT] if fallback else [])
    outcome = (
        Outcome(
            [r for o in outcomes for r in o.results],
            ", ".join(dict.fromkeys(reasons)) or None,
            next((o.error for o in outcomes if o.error), None),
        )
        if outcomes or fallback
        else None
    )
    n = len(segments) + len(history)
    per = segment_results(original, segments + history, each + joint_results)
    return messages, summary(outcome, host, loop.time() - t0, n, history_info, per)


def provider_of(model: str) -> str:
    """LiteLLM's provider name for a model string (the prefix when LiteLLM does not know it)."""
    try:
        return str(litellm_module().get_llm_provider(model)[1])
    except Exception:
        return model.split("/", 1)[0] if "/" in model else "unknown"


class Proxy:
    """`POST /v1/chat/completions`: compress, forward with retries, answer (or stream) with what compression did."""

    def __init__(self, config: ServeConfig, host: CompressorHost, metrics: Metrics) -> None:
        self.config, self.host, self.metrics = config, host, metrics
        self.llm = config.llm
        self._sems: dict[str, asyncio.Semaphore] = {}
        self.warm = False

    async def warm_up(self) -> None:
        """Import LiteLLM off the event loop (seconds): started with the server, awaited by the first call."""
        if not self.warm:
            await asyncio.get_running_loop().run_in_executor(None, error_classes)
            self.warm = True

    def _semaphore(self, provider: str) -> asyncio.Semaphore:
        if provider not in self._sems:
            limits = self.llm.concurrency
            self._sems[provider] = asyncio.Semaphore(
                max(1, int(limits.get(provider, limits.get("default", 64))))
            )
        return self._sems[provider]

    async def prepare(self, data: dict[str, Any]) -> tuple[ChatBody, list[dict[str, Any]], dict[str, Any]]:
        """The parsed request, the messages to send and the compression summary."""
        try:
            body = ChatBody.model_validate(data)
        except ValidationError as exc:
            raise validation_problem(exc) from exc
        unknown = sorted(set(body.model_extra or {}) - PASSED)
        if unknown:
            raise HTTPProblem(
                422,
                f"{', '.join(unknown)}: not an OpenAI chat-completions parameter this proxy passes on "
                f"(it passes {', '.join(sorted(PASSED))}); remove it from the request.",
                param=unknown[0],
            )
        messages = [m.model_dump(exclude_none=False, exclude_unset=True) for m in body.messages]
        rules = self.config.proxy
        over = body.compress
        try:
            check_budget(over.rate, over.target_tokens)
        except CompressError as exc:
            raise HTTPProblem(422, f"compress.rate, compress.target_tokens: {exc}", param="compress") from exc
        messages, info = await compress_messages(messages, rules, over, self.host)
        return body, messages, info

    def _call_kwargs(self, body: ChatBody, messages: list[dict[str, Any]]) -> dict[str, Any]:
        params = {k: v for k, v in (body.model_extra or {}).items()}
        return {
            "model": body.model,
            "messages": messages,
            "stream": body.stream,
            "timeout": self.llm.timeout_s,
            "num_retries": 0,
            **endpoint_kwargs(body.model, self.llm.endpoints),
            **params,
        }

    async def call(self, body: ChatBody, messages: list[dict[str, Any]]) -> tuple[Any, str]:
        """The provider's answer (or its stream), retried as the `llm` config says; HTTPProblem when it fails."""
        await self.warm_up()
        litellm = litellm_module()
        retryable, final = error_classes()
        provider = provider_of(body.model)
        kwargs = self._call_kwargs(body, messages)
        try:
            async with self._semaphore(provider):
                resp, attempts = await with_retries(lambda: litellm.acompletion(**kwargs), self.llm)
        except final as exc:
            self.metrics.upstream.labels(provider, "refused").inc()
            status = int(getattr(exc, "status_code", 502) or 502)
            if isinstance(exc, litellm.AuthenticationError | litellm.PermissionDeniedError):
                raise HTTPProblem(
                    502,
                    f"upstream provider {provider} refused the server's key for model {body.model} "
                    f"({type(exc).__name__}: {str(exc)[:300]}); set the provider's key in the server's environment.",
                    kind="upstream_error",
                ) from exc
            raise HTTPProblem(
                status if 400 <= status < 500 else 502,
                f"upstream provider {provider} rejected the request for model {body.model} "
                f"({type(exc).__name__}: {str(exc)[:300]}).",
                kind="upstream_error",
            ) from exc
        except retryable as exc:
            self.metrics.upstream.labels(provider, "failed").inc()
            self.metrics.upstream_retries.labels(provider).inc(self.llm.max_retries)
            raise HTTPProblem(
                502,
                f"upstream provider {provider} failed for model {body.model} after {self.llm.max_retries + 1} "
                f"attempts ({type(exc).__name__}: {str(exc)[:300]}).",
                kind="upstream_error",
            ) from exc
        self.metrics.upstream.labels(provider, "ok").inc()
        if attempts > 1:
            self.metrics.upstream_retries.labels(provider).inc(attempts - 1)
        return resp, provider

    async def stream(self, resp: Any, provider: str, info: dict[str, Any]) -> AsyncIterator[bytes]:
        """The provider's stream as OpenAI server-sent events, the first chunk carrying the `compress`
        field; a failure mid-stream ends it with an error event (a retry would repeat what was sent)."""
        first = True
        try:
            async for chunk in resp:
                data = chunk.model_dump(exclude_none=True)
                if first:
                    data["compress"], first = info, False
                yield b"data: " + scrub(json.dumps(data)).encode() + b"\n\n"
        except Exception as exc:
            self.metrics.upstream.labels(provider, "stream_broken").inc()
            error = {
                "message": scrub(
                    f"upstream provider {provider} broke the stream: {type(exc).__name__}: {exc}"
                ),
                "type": "upstream_error",
                "code": 502,
            }
            yield b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
