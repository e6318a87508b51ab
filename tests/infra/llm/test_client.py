"""The LLM layer against a real loopback server speaking the OpenAI chat API.

Retries with backoff (429, 5xx, timeouts, malformed bodies), no silent drops, the concurrency
limit per provider, the disk cache (a rerun makes no call), cost accounting, the ledger and the budget.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from compress.infra.llm.client import BudgetExceeded, ChatRequest, LLMCallFailed, LLMSession, LLMSettings
from compress.pipeline import preflight
from tests.support.openai_server import OpenAIServer, ServerState

MODEL = "openai/test-model"
PRICES = {MODEL: {"input_per_mtok": 1.0, "output_per_mtok": 10.0}}
CALL_USD = 10 * 1e-6 + 100 * 10e-6  # the server reports 10 prompt and 100 completion tokens


def _session(tmp_path: Path | None = None, **kw: object) -> LLMSession:
    settings = LLMSettings(
        cache_path=tmp_path / "calls.sqlite" if tmp_path else None,
        ledger_path=tmp_path / "ledger.jsonl" if tmp_path else None,
        base_delay_s=0.01,
        timeout_s=2.0,
        prices=PRICES,
        stage="test",
    )
    for k, v in kw.items():
        setattr(settings, k, v)
    return LLMSession(settings)


def _req(i: int = 0) -> ChatRequest:
    return ChatRequest(
        key=str(i), model=MODEL, messages=[{"role": "user", "content": f"q{i}"}], max_tokens=100
    )


def test_retries_rate_limits_errors_and_malformed_bodies(server: OpenAIServer) -> None:
    server.state.failures = [429, 500, "malformed", 503]
    result = asyncio.run(_session().chat(_req()))
    assert result.text == "echo: q0"
    assert result.attempts == 5 and server.state.requests == 5
    assert (result.prompt_tokens, result.completion_tokens) == (10, 100)
    assert result.cost_usd == pytest.approx(CALL_USD)


def test_slow_answers_time_out_and_are_retried(server: OpenAIServer) -> None:
    server.state.failures = ["slow"]
    server.state.slow_s = 3.0
    result = asyncio.run(_session(timeout_s=0.5).chat(_req()))
    assert result.text == "echo: q0" and result.attempts == 2


def test_gives_up_loudly_after_retries(server: OpenAIServer) -> None:
    server.state.always = 500
    with pytest.raises(LLMCallFailed, match="failed 3 times"):
        asyncio.run(_session(max_retries=2).chat(_req()))
    assert server.state.requests == 3


def test_auth_errors_are_not_retried(server: OpenAIServer) -> None:
    server.state.always = 401
    with pytest.raises(Exception, match=r"(?i)auth"):
        asyncio.run(_session(max_retries=3).chat(_req()))
    assert server.state.requests == 1


def test_concurrency_limit_per_provider_and_order(server: OpenAIServer) -> None:
    server.state.delay_s = 0.2
    server.state.failures = [429]  # one retry in the batch loses nothing
    results = _session(concurrency={"default": 8, "openai": 2}).run_many([_req(i) for i in range(8)])
    assert [r.text for r in results] == [f"echo: q{i}" for i in range(8)]
    assert server.state.max_in_flight == 2
    assert server.state.requests == 9


def test_cache_makes_a_rerun_free(server: OpenAIServer, tmp_path: Path) -> None:
    first = _session(tmp_path)
    a = first.run_many([_req(i) for i in range(5)])
    assert server.state.requests == 5 and first.spent_usd == pytest.approx(5 * CALL_USD)
    second = _session(tmp_path)  # a new process would open the same file
    b = second.run_many([_req(i) for i in range(5)])
    assert server.state.requests == 5  # zero new calls
    assert [r.text for r in a] == [r.text for r in b] and all(r.cached for r in b)
    assert second.spent_usd == 0.0
    s = second.summary()
    assert s["llm/cache_hits"] == 5 and s["llm/calls"] == 0
    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    assert len(ledger) == 10 and sum(r["cached"] for r in ledger) == 5
    assert sum(r["cost_usd"] for r in ledger) == pytest.approx(5 * CALL_USD)


def test_twin_questions_waiting_for_a_slot_are_paid_once(server: OpenAIServer, tmp_path: Path) -> None:
    server.state.delay_s = 0.2
    session = _session(tmp_path, concurrency={"default": 1})
    results = session.run_many([_req(0), _req(0), _req(0), _req(1)])
    assert server.state.requests == 2  # the twins found the first answer in the cache once their turn came
    assert [r.cached for r in results] == [False, True, True, False]
    ledger = [json.loads(line) for line in (tmp_path / "ledger.jsonl").read_text().splitlines()]
    # a call's seconds are its own; the wait for the slot is apart
    made = [r for r in ledger if not r["cached"]]
    assert all(0.15 < r["seconds"] < 2.0 for r in made)
    assert max(r["queued_s"] for r in ledger) >= 0.15


def test_budget_stops_cleanly_and_keeps_what_was_done(server: OpenAIServer, tmp_path: Path) -> None:
    # each call is reserved at its worst case (prompt + max_tokens) before it is made
    session = _session(tmp_path, budget_usd=0.005, concurrency={"openai": 1})
    with pytest.raises(BudgetExceeded, match=r"raise llm\.budget_usd and rerun"):
        session.run_many([_req(i) for i in range(10)])
    done = server.state.requests
    assert 1 <= done < 10
    assert session.spent_usd <= 0.005
    # everything answered before the stop is kept: a rerun with a larger budget pays only for the rest
    rerun = _session(tmp_path, budget_usd=1.0)
    results = rerun.run_many([_req(i) for i in range(10)])
    assert len(results) == 10 and server.state.requests == 10
    assert sum(r.cached for r in results) == done


def test_openai_compatible_endpoint_by_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A vLLM/Ollama-style server named in llm.endpoints: no OpenAI key, no global base URL."""
    from hydra import compose, initialize_config_dir

    from tests.conftest import ROOT

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE", raising=False)
    state = ServerState()
    with OpenAIServer(state) as srv:
        endpoints = {"openai/served-model": {"api_base": srv.base_url, "api_key_env": None}}
        session = _session(endpoints=endpoints)
        req = ChatRequest(
            key="0", model="openai/served-model", messages=[{"role": "user", "content": "hi"}], max_tokens=8
        )
        assert asyncio.run(session.chat(req)).text == "echo: hi"
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                config_name="config", overrides=["teacher=local_llm", "teacher.model=openai/served-model"]
            )
        cfg.llm.endpoints = endpoints
        preflight.check(cfg, ["generate"])  # no OPENAI_API_KEY needed for it


def test_anthropic_messages_api_with_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """`anthropic/...` models speak the messages API: retried on 429/529, priced from LiteLLM's table."""
    state = ServerState(failures=[429, 529])
    with OpenAIServer(state) as srv:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-loopback-0000")
        monkeypatch.setenv("ANTHROPIC_API_BASE", srv.base_url.removesuffix("/v1"))
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.base_url.removesuffix("/v1"))
        session = LLMSession(LLMSettings(base_delay_s=0.01, timeout_s=5.0))
        req = ChatRequest(
            key="0",
            model="anthropic/claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hello"}],
            max_tokens=100,
        )
        result = asyncio.run(session.chat(req))
    assert result.text == "echo: hello" and result.attempts == 3
    assert (result.prompt_tokens, result.completion_tokens) == (10, 100)
    assert result.cost_usd == pytest.approx(10 * 3e-6 + 100 * 15e-6)
