"""The LiteLLM client against a real loopback server: retries with backoff, no silent drops, concurrency."""

from __future__ import annotations

import asyncio

import pytest

from compress.llm.client import ChatRequest, LLMCallFailed, chat, chat_many
from tests.openai_server import OpenAIServer, ServerState


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> object:
    state = ServerState()
    with OpenAIServer(state) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-loopback-0000")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)
        monkeypatch.setenv("OPENAI_API_BASE", srv.base_url)
        yield srv


def _req(i: int = 0) -> ChatRequest:
    return ChatRequest(
        key=str(i), model="openai/test-model", messages=[{"role": "user", "content": f"q{i}"}], max_tokens=8
    )


def test_retries_rate_limits_and_server_errors(server: OpenAIServer) -> None:
    server.state.failures = [429, 500, 503]
    result = asyncio.run(chat(_req(), max_retries=4, base_delay=0.01))
    assert result.text == "echo: q0"
    assert result.attempts == 4 and server.state.requests == 4
    assert (result.prompt_tokens, result.completion_tokens) == (5, 3)


def test_gives_up_loudly_after_retries(server: OpenAIServer) -> None:
    server.state.always = 500
    with pytest.raises(LLMCallFailed, match="failed 3 times"):
        asyncio.run(chat(_req(), max_retries=2, base_delay=0.01))
    assert server.state.requests == 3


def test_auth_errors_are_not_retried(server: OpenAIServer) -> None:
    server.state.always = 401
    with pytest.raises(Exception, match=r"(?i)auth"):
        asyncio.run(chat(_req(), max_retries=3, base_delay=0.01))
    assert server.state.requests == 1


def test_concurrency_limit_and_order(server: OpenAIServer) -> None:
    server.state.delay_s = 0.2
    server.state.failures = [429]  # one retry in the batch loses nothing
    results = asyncio.run(chat_many([_req(i) for i in range(8)], concurrency=2, base_delay=0.01))
    assert [r.text for r in results] == [f"echo: q{i}" for i in range(8)]
    assert server.state.max_in_flight <= 2
    assert server.state.requests == 9
