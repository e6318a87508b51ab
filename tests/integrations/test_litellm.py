"""The LiteLLM hook inside LiteLLM's own proxy: real `litellm --config` processes on loopback ports,
the hook named in their config.yaml, in front of a loopback OpenAI-compatible provider that records
what it receives; called with the OpenAI SDK as any client of the gateway would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from compress.infra.llm.tokens import count_cl100k
from tests.conftest import CACHE
from tests.serve.test_tool_outputs import CALL_ID, ERROR_LINE, LOG, agent_messages
from tests.support.litellm_proxy import MASTER_KEY, PROVIDER_KEY, LiteLLMProxy, write_config
from tests.support.openai_server import OpenAIServer, ServerState

LONG = " ".join(
    f"Sentence {i} tells the reader one more fact about the harbour, its boats, its tides and its keeper."
    for i in range(14)
)
QUESTION = "What about the tides?"
SYSTEM = "You answer questions about the harbour."


@pytest.fixture(scope="module")
def upstream() -> Iterator[OpenAIServer]:
    with OpenAIServer(ServerState()) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxies(
    upstream: OpenAIServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, LiteLLMProxy]]:
    tmp = tmp_path_factory.mktemp("litellm")
    config = write_config(tmp / "config.yaml", upstream.base_url)
    env: dict[str, str | None] = {
        "HF_HUB_OFFLINE": "1",
        "COMPRESS_CACHE": str(CACHE),
        "COMPRESS_MIN_CHARS": "200",
        "COMPRESS_RATE": "0.5",
        "DATABASE_URL": None,  # no spend-tracking database: the proxy runs on its config alone
    }
    started = {
        "good": LiteLLMProxy(config, tmp / "good.log", env | {"COMPRESS_SPEC": "bm25"}),
        "broken": LiteLLMProxy(config, tmp / "broken.log", env | {"COMPRESS_SPEC": "no-such-compressor"}),
    }
    try:
        with ThreadPoolExecutor(2) as pool:
            up = dict(zip(started, pool.map(lambda p: p.wait_up(), started.values()), strict=True))
        print(f"litellm proxies up after {up} s")
        yield started
    finally:
        for p in started.values():
            p.stop()


def _client(proxy: LiteLLMProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url, api_key=MASTER_KEY, timeout=120, max_retries=0)


def _last_body(up: OpenAIServer) -> dict[str, Any]:
    with up.state.lock:
        return up.state.bodies[-1]


def test_the_provider_gets_the_long_message_compressed_and_the_question_intact(
    proxies: dict[str, LiteLLMProxy], upstream: OpenAIServer
) -> None:
    raw = _client(proxies["good"]).chat.completions.with_raw_response.create(
        model="fake",
        messages=[
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": LONG},
            {"role": "assistant", "content": "Noted."},
            {"role": "user", "content": QUESTION},
        ],
    )
    answer = raw.parse()
    assert answer.choices[0].message.content == f"echo: {QUESTION}"
    sent = _last_body(upstream)["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    # short messages, and the last user message (the question), as they were
    assert sent[0]["content"] == SYSTEM and sent[2]["content"] == "Noted." and sent[3]["content"] == QUESTION
    squeezed = sent[1]["content"]
    assert count_cl100k(squeezed) <= 0.6 * count_cl100k(LONG) and "tides" in squeezed
    h = raw.headers
    assert h["x-compress-status"] == "compressed" and h["x-compress-segments"] == "1"
    assert h["x-compress-compressor"] == "bm25"
    assert int(h["x-compress-tokens-after"]) <= 0.5 * int(h["x-compress-tokens-before"]) + 1
    seen = json.dumps(dict(h)) + raw.text + json.dumps(_last_body(upstream))
    assert MASTER_KEY not in seen and "compress" not in json.dumps(_last_body(upstream)).replace(
        "compressed", ""
    )
    assert PROVIDER_KEY not in json.dumps(dict(h)) + raw.text


def test_spans_markers_and_a_request_budget_follow_compress_s_own_proxy_rules(
    proxies: dict[str, LiteLLMProxy], upstream: OpenAIServer
) -> None:
    span_text = " ".join(f"Rule {i}: boats keep to the right of the buoys at dusk." for i in range(8))
    messages: list[Any] = [
        {"role": "system", "content": f"Keep this: <compress>{span_text}</compress> End."},
        {"role": "user", "content": LONG, "compress": False},
        {"role": "user", "content": QUESTION},
    ]
    raw = _client(proxies["good"]).chat.completions.with_raw_response.create(
        model="fake", messages=messages, extra_body={"compress": {"rate": 0.25}}
    )
    body = _last_body(upstream)
    sent = body["messages"]
    assert "compress" not in body and all("compress" not in m for m in sent)
    assert sent[0]["content"].startswith("Keep this: ") and sent[0]["content"].endswith(" End.")
    assert "<compress>" not in sent[0]["content"]
    assert count_cl100k(sent[0]["content"]) < 0.5 * count_cl100k(span_text)  # the request's 0.25
    assert sent[1]["content"] == LONG and sent[2]["content"] == QUESTION
    assert raw.headers["x-compress-segments"] == "1"


def test_a_tool_log_reaches_the_provider_with_its_error_line_and_marker_ids_in_the_headers(
    proxies: dict[str, LiteLLMProxy], upstream: OpenAIServer
) -> None:
    messages: list[Any] = agent_messages()
    for rate in (0.25, 0.1):
        raw = _client(proxies["good"]).chat.completions.with_raw_response.create(
            model="fake", messages=messages, extra_body={"compress": {"rate": rate}}
        )
        sent = _last_body(upstream)["messages"]
        tool = sent[3]
        assert tool["role"] == "tool" and tool["tool_call_id"] == CALL_ID
        assert ERROR_LINE in tool["content"].splitlines() and len(tool["content"]) < len(LOG) / 2
        assert sent[2]["tool_calls"] == messages[2]["tool_calls"] and sent[4] == messages[4]
        ids = raw.headers["x-compress-ids"].split(",")
        assert raw.headers["x-compress-domains"] == "log" and all(f"id {i}" in tool["content"] for i in ids)


def test_short_requests_and_streams_pass_as_they_came(
    proxies: dict[str, LiteLLMProxy], upstream: OpenAIServer
) -> None:
    client = _client(proxies["good"])
    raw = client.chat.completions.with_raw_response.create(
        model="fake", messages=[{"role": "user", "content": "Hello there?"}]
    )
    assert _last_body(upstream)["messages"] == [{"role": "user", "content": "Hello there?"}]
    assert raw.headers["x-compress-status"] == "passthrough" and raw.headers["x-compress-segments"] == "0"
    # a stream: compressed on the way in alike
    chunks = client.chat.completions.create(
        model="fake",
        messages=[{"role": "user", "content": LONG}, {"role": "user", "content": QUESTION}],
        stream=True,
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == f"echo: {QUESTION}"
    sent = _last_body(upstream)["messages"]
    assert count_cl100k(sent[0]["content"]) <= 0.6 * count_cl100k(LONG) and sent[1]["content"] == QUESTION


def test_a_broken_compressor_fails_open(proxies: dict[str, LiteLLMProxy], upstream: OpenAIServer) -> None:
    proxy = proxies["broken"]
    messages: list[Any] = [{"role": "user", "content": LONG}, {"role": "user", "content": QUESTION}]
    raw = _client(proxy).chat.completions.with_raw_response.create(model="fake", messages=messages)
    assert raw.parse().choices[0].message.content == f"echo: {QUESTION}"
    assert _last_body(upstream)["messages"] == messages  # the provider got the original
    assert raw.headers["x-compress-status"] == "passthrough" and raw.headers["x-compress-reason"] == "failed"
    assert "no-such-compressor" in proxy.log() and "failed to load" in proxy.log()
