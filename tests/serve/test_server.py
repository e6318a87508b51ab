"""The server as a real process (`python -m compress.serve`) on a free loopback port, in front of the
loopback OpenAI-compatible provider: readiness, passthrough while loading, every bad input, auth,
metrics, the proxy with and without streaming (OpenAI SDK), upstream faults, a dying compressor
(fail-open and fail-closed), secrets, and a graceful SIGTERM.

Three servers start together when the module starts: `fast` (truncate; an API key; the bulk of the
tests), `slow` (selfinfo, which loads a model: loading is seen; fail_closed; SIGTERM at the end) and
`history` (bm25, which compresses jointly: the chat-history path; tool outputs routed by shape, their
markers' ids and /v1/expand).
Tests run in file order: the ones that kill a worker or stop a server come last for that server.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

from compress.infra.llm.tokens import CL100K
from tests.conftest import CACHE
from tests.serve.test_proxy_history import FACT, conversation
from tests.serve.test_proxy_history import QUESTION as HISTORY_QUESTION
from tests.serve.test_tool_outputs import CALL_ID, ERROR_LINE, LOG, agent_messages
from tests.support.openai_server import OpenAIServer, ServerState
from tests.support.serve import ServeProcess

API_KEY = "compress-test-key-5a1c9e"
PLANTED = "sk-planted-provider-key-7f3b2d9e41"  # the provider key: must never leave the server
MODEL = "gpt-4o-mini"  # a plain OpenAI model name, as an SDK user writes it
LONG = " ".join(
    f"Sentence {i} tells the reader one more fact about the harbour, its boats, its tides and its keeper."
    for i in range(14)
)
QUESTION = "What about the tides?"
CHAT: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": LONG},
    {"role": "assistant", "content": "Noted."},
    {"role": "user", "content": QUESTION},
]
# every response body and header any test saw, searched for the planted key at the end
SEEN: list[str] = []


def _see(r: httpx.Response) -> httpx.Response:
    SEEN.append(r.text + json.dumps(dict(r.headers)))
    return r


def _config(tmp: Path, name: str, **top: Any) -> Path:
    cfg = {
        "proxy": {"min_chars": 200, "rate": 0.5},
        "llm": {"max_retries": 2, "base_delay_s": 0.05, "timeout_s": 2.0},
        **top,
    }
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer(ServerState()) as srv:
        yield srv


def _reset(up: OpenAIServer) -> ServerState:
    s = up.state
    with s.lock:
        s.failures, s.always, s.delay_s, s.slow_s, s.requests = [], None, 0.0, 5.0, 0
        s.bodies.clear()
        s.authorizations.clear()
    return s


@pytest.fixture(scope="module")
def servers(
    upstream: OpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, ServeProcess]]:
    tmp = tmp_path_factory.mktemp("serve")
    env = {
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "disabled",
        "COMPRESS_CACHE": str(CACHE),
        "OPENAI_API_KEY": PLANTED,
        "OPENAI_BASE_URL": upstream.base_url,
        "OPENAI_API_BASE": upstream.base_url,
    }
    os.environ.pop("COMPRESS_API_KEY", None)
    slow = ServeProcess(
        "selfinfo", tmp / "slow.log", "--config", str(_config(tmp, "slow", fail_closed=True)), env=env
    )
    fast = ServeProcess(
        "truncate",
        tmp / "fast.log",
        "--config",
        str(_config(tmp, "fast")),
        "--max-body-bytes",
        "20000",
        "--max-texts",
        "4",
        env=env,
        api_key=API_KEY,
    )
    # bm25 (joint-capable) for the chat-history path; started with the others, used by one test
    history = ServeProcess(
        "bm25",
        tmp / "history.log",
        "--config",
        str(_config(tmp, "history", proxy={"rate": 0.25, "history": {"min_tokens": 200}})),
        env=env,
    )
    yield {"fast": fast, "slow": slow, "history": history}
    for s in (fast, slow, history):
        if s.proc.poll() is None:
            s.stop(signal.SIGKILL)


def _chat(server: ServeProcess, **extra: Any) -> httpx.Response:
    body = {"model": MODEL, "messages": CHAT} | extra
    return _see(server.client.post("/v1/chat/completions", json=body))


def _sample(metrics: dict[str, float], name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for key, value in metrics.items():
        base, _, rest = key.partition("{")
        pairs = dict(p.split("=", 1) for p in rest.rstrip("}").split(",") if "=" in p)
        if base == name and all(pairs.get(k) == f'"{v}"' for k, v in labels.items()):
            total += value
    return total


# --- the slow server: loading -> ready -------------------------------------------------------


def test_answers_at_once_and_passes_through_while_loading(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    slow = servers["slow"]
    slow.wait_up()
    ready = _see(slow.client.get("/readyz"))
    assert ready.status_code == 503 and ready.json()["status"] == "loading"
    r = _see(slow.client.post("/v1/compress", json={"text": LONG, "rate": 0.5}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["compressed"] == LONG and body["status"] == "passthrough"
    assert body["tokenizer"] == CL100K and body["tokens_before"] == body["tokens_after"] > 0
    assert r.headers["x-compress-reason"] == "loading"
    # the proxy forwards the request uncompressed rather than making the caller wait
    state = _reset(upstream)
    r = _chat(slow)
    assert r.status_code == 200, r.text
    assert state.bodies[-1]["messages"][0]["content"] == LONG
    assert r.json()["compress"]["reason"] == "loading" and r.headers["x-compress-status"] == "passthrough"
    assert _sample(slow.metrics(), "compress_passthroughs_total", reason="loading") >= 2


def test_loading_turns_ready_and_compresses(servers: dict[str, ServeProcess]) -> None:
    slow = servers["slow"]
    info = slow.wait_ready()
    assert info["compressor"]["name"] == "selfinfo" and info["worker_pid"] != slow.proc.pid
    r = _see(slow.client.post("/v1/compress", json={"text": LONG, "rate": 0.5}))
    body = r.json()
    assert r.status_code == 200 and body["status"] == "compressed", body
    assert body["tokens_after"] < body["tokens_before"] and body["tokenizer"] != CL100K
    assert _sample(slow.metrics(), "compress_ready") == 1


# --- the fast server: input, auth, metrics ---------------------------------------------------

BAD: list[tuple[str, dict[str, Any], int, list[str]]] = [
    ("not JSON", {"content": b"{not json"}, 400, ["not JSON", "line 1"]),
    ("invalid UTF-8", {"content": b'{"text": "caf\xe9"}'}, 400, ["UTF-8", "byte"]),
    ("empty body", {"content": b""}, 400, ["empty"]),
    ("a JSON list", {"json": ["a"]}, 400, ["JSON object"]),
    ("missing text", {"json": {"rate": 0.5}}, 422, ["text: missing"]),
    ("empty text", {"json": {"text": ""}}, 422, ["text: empty"]),
    ("blank text", {"json": {"text": "  \n "}}, 422, ["text: empty"]),
    ("empty text in a batch", {"json": {"texts": ["fine", ""]}}, 422, ["texts[1]: empty"]),
    ("empty batch", {"json": {"texts": []}}, 422, ["texts: an empty list"]),
    ("text a number", {"json": {"text": 5}}, 422, ["text:", "got int"]),
    ("texts a string", {"json": {"texts": "abc"}}, 422, ["texts:", "got str"]),
    ("rate a string", {"json": {"text": "a b c", "rate": "half"}}, 422, ["rate:", "got str"]),
    ("rate above 1", {"json": {"text": "a b c", "rate": 1.5}}, 422, ["rate:", "less than or equal to 1"]),
    ("target_tokens 0", {"json": {"text": "a b c", "target_tokens": 0}}, 422, ["target_tokens:", "1"]),
    (
        "both budgets",
        {"json": {"text": "a b", "rate": 0.5, "target_tokens": 3}},
        422,
        ["rate, target_tokens"],
    ),
    ("unknown field", {"json": {"txt": "a b c"}}, 422, ["txt:", "Extra inputs"]),
    ("lone surrogate", {"content": b'{"text": "ab \\ud800 cd"}'}, 422, ["text:", "surrogate"]),
    # 5,000 levels (10 kB): the JSON parser's recursion once escaped as a 500 and reset the connection
    ("nested too deep", {"content": b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}"}, 400, ["nested", "64"]),
    ("nested past the limit", {"content": b'{"text": ' + b"[" * 70 + b"]" * 70 + b"}"}, 400, ["nested"]),
    ("threshold and rate", {"json": {"text": "a b c", "rate": 0.5, "threshold": 0.3}}, 422, ["not several"]),
    ("threshold on truncation", {"json": {"text": LONG, "threshold": 0.3}}, 422, ["threshold=0.3", "budget"]),
    (
        "joint on truncation",
        {"json": {"texts": [LONG, LONG], "rate": 0.5, "joint": True}},
        422,
        ["joint=True"],
    ),
    ("unknown domain", {"json": {"text": LONG, "rate": 0.5, "domain": "poetry"}}, 422, ["domain", "poetry"]),
    ("body over the limit", {"json": {"text": "x " * 15000}}, 413, ["20000 bytes", "--max-body-bytes"]),
    ("too many texts", {"json": {"texts": ["a b"] * 5}}, 413, ["5 texts", "limit of 4", "--max-texts"]),
]


def test_every_bad_input_gets_a_4xx_naming_the_field_and_the_server_keeps_serving(
    servers: dict[str, ServeProcess],
) -> None:
    fast = servers["fast"]
    fast.wait_up()
    fast.wait_ready()
    for what, kwargs, status, needles in BAD:
        r = _see(fast.client.post("/v1/compress", **kwargs))
        assert r.status_code == status, (what, r.status_code, r.text)
        message = r.json()["error"]["message"]
        assert all(n in message for n in needles), (what, message)
        assert "Traceback" not in r.text
    # a body streamed without Content-Length is counted as it arrives
    r = _see(fast.client.post("/v1/compress", content=iter([b'{"text": "', b"y" * 30000, b'"}'])))
    assert r.status_code == 413 and "--max-body-bytes" in r.json()["error"]["message"]
    # the proxy's input, and LiteLLM's own routing arguments a caller must not set
    for body, status, needle in [
        (b"[1,", 400, "not JSON"),
        (b'{"model": ' + b"[" * 3000 + b"]" * 3000 + b"}", 400, "nested"),
        (json.dumps({"model": MODEL}).encode(), 422, "messages"),
        (json.dumps({"model": MODEL, "messages": "hi"}).encode(), 422, "messages"),
        (json.dumps({"model": MODEL, "messages": CHAT, "api_base": "http://evil"}).encode(), 422, "api_base"),
    ]:
        r = _see(fast.client.post("/v1/chat/completions", content=body))
        assert r.status_code == status and needle in r.json()["error"]["message"], r.text
    r = _see(fast.client.get("/v1/nothing"))
    assert r.status_code == 404 and "/v1/compress" in r.json()["error"]["message"]
    r = _see(fast.client.post("/v1/compress", json={"text": LONG, "rate": 0.5}))
    assert r.status_code == 200 and r.json()["status"] == "compressed"
    m = fast.metrics()
    assert _sample(m, "compress_errors_total", route="/v1/compress") >= len(BAD) + 1
    assert _sample(m, "compress_http_requests_total", route="/v1/compress", status="500") == 0


def test_api_key_is_required_except_by_the_probes(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    fast = servers["fast"]
    state = _reset(upstream)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        for method, path in (
            ("POST", "/v1/compress"),
            ("POST", "/v1/expand"),
            ("POST", "/v1/chat/completions"),
            ("GET", "/metrics"),
        ):
            r = _see(
                httpx.request(method, fast.url + path, headers=headers, json={"text": "a b c", "rate": 0.5})
            )
            assert r.status_code == 401, (headers, path, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "COMPRESS_API_KEY" in r.json()["error"]["message"]
    assert state.requests == 0
    assert httpx.get(fast.url + "/healthz").status_code == 200
    assert httpx.get(fast.url + "/readyz").status_code == 200
    sdk = openai.OpenAI(base_url=fast.url + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        sdk.chat.completions.create(model=MODEL, messages=CHAT)


def test_batches_and_metrics_counters_move(servers: dict[str, ServeProcess]) -> None:
    fast = servers["fast"]
    before = fast.metrics()
    r = _see(fast.client.post("/v1/compress", json={"texts": [LONG, LONG[:400]], "rate": 0.5}))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["compressed", "compressed"]
    assert body["tokens_before"] == sum(x["tokens_before"] for x in body["results"])
    assert all(LONG.startswith(x["compressed"]) for x in body["results"])  # truncate keeps the head
    after = fast.metrics()

    def moved(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert moved("compress_http_requests_total", route="/v1/compress", method="POST", status="200") == 1
    assert moved("compress_http_request_seconds_count", route="/v1/compress") == 1
    assert moved("compress_tokens_in_total", route="/v1/compress") == body["tokens_before"]
    assert moved("compress_tokens_out_total", route="/v1/compress") == body["tokens_after"]
    assert moved("compress_texts_total", route="/v1/compress", status="compressed") == 2
    assert moved("compress_compressor_seconds_count") == 1


# --- the fast server: the proxy ----------------------------------------------------------------


def test_proxy_round_trip_with_the_openai_sdk(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    fast = servers["fast"]
    state = _reset(upstream)
    sdk = openai.OpenAI(base_url=fast.url + "/v1", api_key=API_KEY, max_retries=0)
    raw = sdk.chat.completions.with_raw_response.create(model=MODEL, messages=CHAT)
    SEEN.append(raw.http_response.text + json.dumps(dict(raw.headers)))
    completion = raw.parse()
    assert completion.choices[0].message.content == f"echo: {QUESTION}"
    assert completion.usage is not None and completion.usage.total_tokens == 110
    info = (completion.model_extra or {})["compress"]
    assert info["status"] == "compressed" and info["segments"] == 1
    assert int(raw.headers["x-compress-tokens-after"]) < int(raw.headers["x-compress-tokens-before"])
    assert int(raw.headers["x-compress-tokens-before"]) == info["tokens_before"]
    assert float(raw.headers["x-compress-seconds"]) >= 0
    sent = state.bodies[-1]["messages"]
    assert LONG.startswith(sent[0]["content"]) and len(sent[0]["content"]) < len(LONG)
    assert sent[1:] == CHAT[1:]  # the short answer and the question go as they came
    assert state.authorizations[-1] == f"Bearer {PLANTED}"  # the provider's key, not the caller's


def test_proxy_compresses_marked_spans_and_honours_per_message_markers(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    fast = servers["fast"]
    state = _reset(upstream)
    short = "Facts: " + LONG[:150]  # under min_chars: compressed only because it is wrapped
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": f"Rules first. <compress>{LONG}</compress> Keep it short."},
        {"role": "user", "content": LONG, "compress": False},
        {"role": "tool", "content": [{"type": "text", "text": f"<compress>{short}</compress>"}]},
        {"role": "user", "content": QUESTION},
    ]
    r = _see(fast.client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}))
    assert r.status_code == 200, r.text
    sent = state.bodies[-1]["messages"]
    system = sent[0]["content"]
    assert (
        system.startswith("Rules first. ")
        and system.endswith(" Keep it short.")
        and "compress>" not in system
    )
    assert len(system) < len(messages[0]["content"]) - len("<compress></compress>")
    assert sent[1] == {"role": "user", "content": LONG}  # marked false: as it was, the marker removed
    tool_text = sent[2]["content"][0]["text"]
    assert "compress>" not in tool_text and short.startswith(tool_text) and len(tool_text) < len(short)
    assert r.json()["compress"]["segments"] == 2
    # the request's own options: compression off
    r = _see(
        fast.client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": CHAT, "compress": {"enabled": False}}
        )
    )
    assert r.status_code == 200 and state.bodies[-1]["messages"][0]["content"] == LONG
    assert "compress" not in state.bodies[-1]


def test_proxy_compresses_a_long_chat_history_jointly(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    server = servers["history"]
    server.wait_ready()
    state = _reset(upstream)
    messages = conversation()  # 40 short turns; an early one holds the locker code, the last asks for it
    r = _see(server.client.post("/v1/chat/completions", json={"model": MODEL, "messages": messages}))
    assert r.status_code == 200, r.text
    sent = state.bodies[-1]["messages"]
    assert sent[0] == messages[0] and sent[-2:] == messages[-2:]  # system prompt, last two: as they came
    assert {"role": "user", "content": FACT} in sent and sent[-1]["content"] == HISTORY_QUESTION
    assert len(sent) <= 3 + 38 // 3  # most of the 38 history messages removed
    info = r.json()["compress"]
    history = info["history"]
    assert history["joint"] is True and history["messages"] == 38
    assert history["removed"] == len(messages) - len(sent)
    assert info["status"] == "compressed" and info["segments"] == 38
    assert int(r.headers["x-compress-tokens-before"]) == history["tokens_before"] > 0
    assert int(r.headers["x-compress-tokens-after"]) == history["tokens_after"]
    assert history["tokens_after"] <= 0.25 * history["tokens_before"] + 8
    # truncate cannot compress jointly: a history over the default 1500 tokens goes on as it came (its
    # messages all short), and the summary says why
    fast, longer = servers["fast"], conversation(200)
    r = _see(fast.client.post("/v1/chat/completions", json={"model": MODEL, "messages": longer}))
    assert r.status_code == 200, r.text
    assert state.bodies[-1]["messages"] == longer
    assert r.headers["x-compress-reason"] == "history_not_joint"


# --- the history server (bm25): tool outputs routed by shape, markers, /v1/expand ---------------


def _expanded(server: ServeProcess, marker_id: str) -> str:
    """/v1/expand's text for `marker_id` (asserting a 200 that names the id)."""
    r = _see(server.client.post("/v1/expand", json={"id": marker_id}))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == marker_id
    return str(r.json()["text"])


def _assert_dropped_lines(text: str) -> None:
    """`text` is a run of the log's own lines, exactly as they were, without the error."""
    assert text.strip() and text in LOG and ERROR_LINE not in text
    assert set(text.splitlines()) <= set(LOG.splitlines())


def test_proxy_routes_a_tool_log_keeps_its_error_and_expand_gives_back_the_dropped_lines(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    server = servers["history"]
    server.wait_ready()
    messages = agent_messages()
    for rate in (0.25, 0.1):  # the config's rate, then the request's own
        state = _reset(upstream)
        body: dict[str, Any] = {"model": MODEL, "messages": messages}
        if rate != 0.25:
            body["compress"] = {"rate": rate}
        r = _see(server.client.post("/v1/chat/completions", json=body))
        assert r.status_code == 200, r.text
        sent = state.bodies[-1]["messages"]
        # the tool's answer shorter, its error line whole; the call and every other message as they came
        tool = sent[3]
        assert tool["role"] == "tool" and tool["tool_call_id"] == CALL_ID
        assert ERROR_LINE in tool["content"].splitlines() and len(tool["content"]) < len(LOG) / 2
        assert [sent[i] for i in (0, 1, 4)] == [messages[i] for i in (0, 1, 4)]
        assert sent[2]["tool_calls"] == messages[2]["tool_calls"]  # (LiteLLM drops its null content)
        info = r.json()["compress"]
        assert info["status"] == "compressed" and info["domains"] == ["log"] and info["ids"], info
        (result,) = info["results"]
        assert (result["message"], result["role"], result["domain"]) == (3, "tool", "log")
        assert result["ids"] == info["ids"] and result["tokens_after"] < result["tokens_before"]
        assert (
            r.headers["x-compress-ids"] == ",".join(info["ids"]) and r.headers["x-compress-domains"] == "log"
        )
        # each id is a marker in what the model read, and the server gives back the lines it stands for
        for marker_id in info["ids"]:
            assert f"id {marker_id}" in tool["content"]
            _assert_dropped_lines(_expanded(server, marker_id))
    # the request names the domain: the log compressed as prose; a domain no compressor has: a 422
    state = _reset(upstream)
    r = _see(
        server.client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": messages, "compress": {"domain": "nl"}}
        )
    )
    assert r.status_code == 200 and r.json()["compress"]["domains"] == ["nl"], r.text
    r = _see(
        server.client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": messages, "compress": {"domain": "poetry"}},
        )
    )
    assert r.status_code == 422 and r.json()["error"]["param"] == "compress.domain", r.text
    assert "poetry" in r.json()["error"]["message"] and "log" in r.json()["error"]["message"]


def test_compress_routes_tool_outputs_by_shape_and_a_domain_overrides_it(
    servers: dict[str, ServeProcess],
) -> None:
    server = servers["history"]
    rows = json.dumps([{"id": i, "name": f"item-{i}", "status": "ok", "tags": ["a", "b"]} for i in range(60)])
    r = _see(server.client.post("/v1/compress", json={"text": rows, "rate": 0.25}))
    assert r.status_code == 200 and r.json()["domain"] == "json", r.text
    assert isinstance(r.json()["ids"], list)
    r = _see(server.client.post("/v1/compress", json={"text": rows, "rate": 0.25, "domain": "nl"}))
    assert r.status_code == 200 and r.json()["domain"] == "nl", r.text
    # /v1/compress's markers expand too, in a batch each result with its own ids
    r = _see(server.client.post("/v1/compress", json={"texts": [LOG, rows], "rate": 0.1}))
    assert r.status_code == 200, r.text
    log_result, rows_result = r.json()["results"]
    assert (log_result["domain"], rows_result["domain"]) == ("log", "json") and log_result["ids"]
    assert ERROR_LINE in log_result["compressed"]
    for marker_id in log_result["ids"]:
        _assert_dropped_lines(_expanded(server, marker_id))


def test_expand_answers_an_unknown_id_or_a_bad_body_with_a_4xx_and_keeps_serving(
    servers: dict[str, ServeProcess],
) -> None:
    server = servers["history"]
    r = _see(server.client.post("/v1/expand", json={"id": "0badc0de"}))
    assert r.status_code == 404, r.text
    error = r.json()["error"]
    assert error["type"] == "not_found" and error["param"] == "id" and "0badc0de" in error["message"]
    for content, status, needle in [
        (b"{not json", 400, "not JSON"),
        (b"", 400, "empty"),
        (json.dumps({}).encode(), 422, "id:"),
        (json.dumps({"id": 5}).encode(), 422, "got int"),
        (json.dumps({"id": "   "}).encode(), 422, "id: empty"),
        (json.dumps({"id": "x" * 300}).encode(), 422, "id:"),
        (json.dumps({"id": "a", "ids": ["b"]}).encode(), 422, "ids:"),
        (b'{"id": "\\ud800"}', 422, "id:"),  # a lone surrogate
    ]:
        r = _see(server.client.post("/v1/expand", content=content))
        assert r.status_code == status and needle in r.json()["error"]["message"], (content, r.text)
        assert "Traceback" not in r.text
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"
    m = server.metrics()
    assert _sample(m, "compress_http_requests_total", route="/v1/expand", status="404") == 1
    assert _sample(m, "compress_http_requests_total", route="/v1/expand", status="500") == 0


def test_proxy_streams_through(servers: dict[str, ServeProcess], upstream: OpenAIServer) -> None:
    fast = servers["fast"]
    state = _reset(upstream)
    state.failures = [429]  # retried before the stream starts
    sdk = openai.OpenAI(base_url=fast.url + "/v1", api_key=API_KEY, max_retries=0)
    chunks = list(
        sdk.chat.completions.create(
            model=MODEL,
            messages=CHAT,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    SEEN.extend(c.model_dump_json() for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: {QUESTION}"
    assert (chunks[0].model_extra or {})["compress"]["status"] == "compressed"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == len(text.split(" "))
    assert state.requests == 2 and state.bodies[-1]["stream"] is True
    assert len(state.bodies[-1]["messages"][0]["content"]) < len(LONG)


def test_upstream_faults_are_retried_then_a_502_names_the_provider(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    fast = servers["fast"]
    state = _reset(upstream)
    state.failures = [429, 500]
    r = _chat(fast)
    assert r.status_code == 200 and state.requests == 3, r.text  # max_retries: 2
    for fault in (429, 500, "slow"):
        state = _reset(upstream)
        if fault == "slow":
            state.failures, state.slow_s = ["slow"] * 3, 4.0  # past the 2 s timeout, three times
        else:
            state.always = fault
        r = _chat(fast)
        assert r.status_code == 502, (fault, r.text)
        error = r.json()["error"]
        assert "upstream provider openai" in error["message"] and "3 attempts" in error["message"], error
        assert error["type"] == "upstream_error" and state.requests == 3
    state = _reset(upstream)
    state.always = 401  # the provider rejects the key, quoting it
    r = _chat(fast)
    assert r.status_code == 502 and "refused the server's key" in r.json()["error"]["message"]
    assert state.requests == 1  # not retried
    m = fast.metrics()
    assert _sample(m, "compress_upstream_requests_total", provider="openai", outcome="failed") == 3
    assert _sample(m, "compress_upstream_retries_total", provider="openai") >= 2 + 3 * 2


def test_provider_keys_never_leave_the_server(servers: dict[str, ServeProcess]) -> None:
    fast = servers["fast"]
    SEEN.append(httpx.get(fast.url + "/metrics", headers=fast.auth()).text)
    assert SEEN and not [s for s in SEEN if PLANTED in s]
    log = fast.log()
    assert "POST /v1/chat/completions" in log  # the log is there, and has none of the keys
    assert PLANTED not in log and API_KEY not in log


def test_a_dying_compressor_fails_open_and_restarts(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    fast = servers["fast"]
    pid = fast.wait_ready()["worker_pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    state = _reset(upstream)
    r = _chat(fast)
    assert r.status_code == 200, r.text
    assert state.bodies[-1]["messages"][0]["content"] == LONG  # forwarded uncompressed
    assert (
        r.json()["compress"]["reason"] == "compressor_error"
        and r.headers["x-compress-reason"] == "compressor_error"
    )
    m = fast.metrics()
    assert _sample(m, "compress_compressor_failures_total") == 1
    assert _sample(m, "compress_worker_restarts_total") == 1
    info = fast.wait_ready()
    assert info["worker_pid"] != pid
    r = _see(fast.client.post("/v1/compress", json={"text": LONG, "rate": 0.5}))
    assert r.json()["status"] == "compressed"


# --- the slow server: fail_closed, then SIGTERM -----------------------------------------------


def test_fail_closed_answers_503_instead_of_forwarding(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    slow = servers["slow"]
    pid = slow.wait_ready()["worker_pid"]
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.5)
    state = _reset(upstream)
    r = _chat(slow)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["type"] == "compressor_error" and "fail_closed" in r.json()["error"]["message"]
    assert state.requests == 0
    assert _sample(slow.metrics(), "compress_compressor_failures_total") == 1


def test_sigterm_finishes_the_request_in_flight_then_exits_0(
    servers: dict[str, ServeProcess], upstream: OpenAIServer
) -> None:
    slow = servers["slow"]
    state = _reset(upstream)
    state.delay_s = 1.5  # under the 2 s timeout: slow, not failing
    result: dict[str, Any] = {}

    def call() -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTION}]}
        result["r"] = httpx.post(slow.url + "/v1/chat/completions", json=body, timeout=60)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 30
    while state.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert state.in_flight == 1
    code = slow.stop(signal.SIGTERM)
    caller.join(30)
    assert (
        result["r"].status_code == 200
        and result["r"].json()["choices"][0]["message"]["content"] == f"echo: {QUESTION}"
    )
    assert code == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(slow.url + "/healthz", timeout=2)
