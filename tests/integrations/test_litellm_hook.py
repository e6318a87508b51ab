"""The LiteLLM hook's own logic on plain request dicts, no proxy: its settings from the environment,
what it does to a request, and that nothing it meets makes it raise."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from compress.infra.errors import CompressError
from compress.integrations.litellm import CompressHook, HookSettings, settings_from_env
from compress.serve.config import ProxyHistory, ProxySelect
from compress.serve.proxy import Overrides, compress_messages
from tests.serve.test_proxy_history import FACT, conversation
from tests.serve.test_tool_outputs import ERROR_LINE, LOG, agent_messages

LONG = " ".join(
    f"Sentence {i} tells the reader one more fact about the harbour, its boats, its tides and its keeper."
    for i in range(14)
)
QUESTION = "What about the tides?"


def test_settings_from_the_environment(tmp_path: Path) -> None:
    s = settings_from_env({})
    assert s.spec is None and s.worker == "process" and s.proxy == ProxySelect()
    s = settings_from_env(
        {
            "COMPRESS_SPEC": "bm25",
            "COMPRESS_TARGET_TOKENS": "300",
            "COMPRESS_MIN_CHARS": "500",
            "COMPRESS_ROLES": "user, tool,system",
            "COMPRESS_WORKER": "thread",
            "COMPRESS_LOAD_WAIT_S": "5",
            "COMPRESS_DOMAIN": "log",
        }
    )
    assert (s.spec, s.worker, s.load_wait_s, s.proxy.domain) == ("bm25", "thread", 5.0, "log")
    assert (s.proxy.rate, s.proxy.target_tokens, s.proxy.min_chars) == (None, 300, 500)
    assert s.proxy.roles == ["user", "tool", "system"]
    cfg = tmp_path / "proxy.yaml"
    cfg.write_text(yaml.safe_dump({"proxy": {"keep_last_user": False, "rate": 0.3, "spans": False}}))
    s = settings_from_env({"COMPRESS_CONFIG": str(cfg), "COMPRESS_RATE": "0.4"})
    assert (s.proxy.keep_last_user, s.proxy.spans, s.proxy.rate) == (False, False, 0.4)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"COMPRESS_RATE": "0.5", "COMPRESS_TARGET_TOKENS": "10"}, "COMPRESS_RATE"),
        ({"COMPRESS_RATE": "2"}, "COMPRESS_RATE"),
        ({"COMPRESS_WORKER": "fork"}, "COMPRESS_WORKER"),
        ({"COMPRESS_MIN_CHARS": "many"}, "COMPRESS_MIN_CHARS"),
        ({"COMPRESS_DOMAIN": "poetry"}, "COMPRESS_DOMAIN"),
        ({"COMPRESS_CONFIG": "/no/such/proxy.yaml"}, "/no/such/proxy.yaml"),
    ],
)
def test_a_malformed_environment_is_named_and_disables_the_hook(env: dict[str, str], named: str) -> None:
    with pytest.raises(CompressError, match=named):
        settings_from_env(env | {"COMPRESS_SPEC": "bm25"})
    hook = CompressHook.from_env(env | {"COMPRESS_SPEC": "bm25"})
    assert hook.error and named in hook.error
    data = {"model": "m", "messages": [{"role": "user", "content": LONG}], "compress": {"rate": 0.3}}
    out = asyncio.run(hook.async_pre_call_hook(None, None, data, "acompletion"))
    assert out["messages"] == [{"role": "user", "content": LONG}] and "compress" not in out
    assert out["metadata"]["compress"]["reason"] == "failed"


def test_without_a_spec_everything_passes_and_other_calls_are_left_alone() -> None:
    hook = CompressHook()
    data: dict[str, Any] = {"messages": [{"role": "user", "content": LONG}], "metadata": {"user": "u1"}}
    out = asyncio.run(hook.async_pre_call_hook(None, None, data, "completion"))
    assert out["messages"][0]["content"] == LONG
    assert out["metadata"] == {
        "user": "u1",
        "compress": {"status": "passthrough", "segments": 0, "reason": "unconfigured"},
    }
    embed = {"input": [LONG], "model": "e"}
    assert asyncio.run(hook.async_pre_call_hook(None, None, copy.deepcopy(embed), "aembedding")) == embed
    assert asyncio.run(hook.async_post_call_response_headers_hook({"messages": []}, None, None)) is None


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    # one loop for the module: the hook's compressor belongs to the loop that started it
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


@pytest.fixture(scope="module")
def hook(loop: asyncio.AbstractEventLoop) -> Iterator[CompressHook]:
    h = CompressHook(HookSettings(spec="truncate", worker="thread", proxy=ProxySelect(min_chars=200)))
    yield h
    if h._host is not None:
        loop.run_until_complete(h._host.close())


def _call(loop: asyncio.AbstractEventLoop, hook: CompressHook, data: dict[str, Any]) -> dict[str, Any]:
    return loop.run_until_complete(hook.async_pre_call_hook(None, None, data, "acompletion"))


def test_the_hook_compresses_what_the_rules_select(
    loop: asyncio.AbstractEventLoop, hook: CompressHook
) -> None:
    messages = [
        {"role": "system", "content": LONG},
        {"role": "user", "content": LONG},
        {"role": "user", "content": LONG + " " + QUESTION},
    ]
    out = _call(loop, hook, {"model": "m", "messages": copy.deepcopy(messages)})
    sent = out["messages"]
    assert sent[0] == messages[0] and sent[2] == messages[2]  # system: not a selected role; the question
    assert LONG.startswith(sent[1]["content"]) and len(sent[1]["content"]) < len(LONG)
    info = out["metadata"]["compress"]
    assert info["status"] == "compressed" and info["segments"] == 1 and info["compressor"] == "truncate"
    assert info["tokens_after"] <= round(0.5 * info["tokens_before"])
    hdrs = loop.run_until_complete(hook.async_post_call_response_headers_hook(out, None, None))
    assert hdrs is not None and hdrs["x-compress-status"] == "compressed"
    assert hdrs["x-compress-tokens-before"] == str(info["tokens_before"])


def test_a_request_may_turn_it_off_and_a_bad_request_passes_through(
    loop: asyncio.AbstractEventLoop, hook: CompressHook
) -> None:
    marked = [{"role": "user", "content": LONG, "compress": True}, {"role": "user", "content": QUESTION}]
    out = _call(loop, hook, {"messages": copy.deepcopy(marked), "compress": {"enabled": False}})
    assert out["messages"] == [{"role": "user", "content": LONG}, {"role": "user", "content": QUESTION}]
    assert out["metadata"]["compress"]["segments"] == 0 and "compress" not in out
    # a budget out of range, a message that is not a mapping: the request goes on as it came
    for data in (
        {"messages": copy.deepcopy(marked), "compress": {"rate": 2}},
        {"messages": ["not a message", {"role": "user", "content": LONG}]},
    ):
        before = copy.deepcopy(data["messages"])
        out = _call(loop, hook, data)
        assert out["messages"] == before and "compress" not in out
        assert out["metadata"]["compress"] == {"status": "passthrough", "segments": 0, "reason": "hook_error"}


HISTORY_RULES = ProxySelect(rate=0.25, history=ProxyHistory(min_tokens=200))


@pytest.fixture(scope="module")
def bm25(loop: asyncio.AbstractEventLoop) -> Iterator[CompressHook]:
    """A hook with bm25 (joint-capable) at rate 0.25, the history path on from 200 tokens."""
    h = CompressHook(HookSettings(spec="bm25", worker="thread", proxy=HISTORY_RULES))
    yield h
    if h._host is not None:
        loop.run_until_complete(h._host.close())


def test_the_hook_compresses_a_long_chat_history_as_the_proxy_does(
    loop: asyncio.AbstractEventLoop, bm25: CompressHook
) -> None:
    messages = conversation()  # 40 short turns: an early one holds the locker code, the last asks
    out = _call(loop, bm25, {"model": "m", "messages": copy.deepcopy(messages)})
    sent, info = out["messages"], out["metadata"]["compress"]
    assert sent[0] == messages[0] and sent[-2:] == messages[-2:]
    assert {"role": "user", "content": FACT} in sent and len(sent) <= 3 + 38 // 3
    assert info["history"]["joint"] is True and info["history"]["removed"] == len(messages) - len(sent)
    assert info["status"] == "compressed" and info["segments"] == 38
    # the same function as compress's own proxy, the same compressor: the same request goes out
    assert bm25._host is not None
    again = loop.run_until_complete(
        compress_messages(copy.deepcopy(messages), HISTORY_RULES, Overrides(), bm25._host)
    )
    assert again[0] == sent and again[1]["history"] == info["history"]


def test_the_hook_keeps_a_tool_logs_error_and_expands_its_markers(
    loop: asyncio.AbstractEventLoop, bm25: CompressHook
) -> None:
    for over in ({}, {"rate": 0.1}):  # the hook's rate (0.25), then the request's own
        data: dict[str, Any] = {"model": "m", "messages": agent_messages()}
        if over:
            data["compress"] = over
        out = _call(loop, bm25, data)
        sent, info = out["messages"], out["metadata"]["compress"]
        tool = sent[3]["content"]
        assert ERROR_LINE in tool.splitlines() and len(tool) < len(LOG) / 2
        assert [sent[i] for i in (0, 1, 2, 4)] == [agent_messages()[i] for i in (0, 1, 2, 4)]
        assert info["domains"] == ["log"] and info["ids"] and info["results"][0]["message"] == 3
        hdrs = loop.run_until_complete(bm25.async_post_call_response_headers_hook(out, None, None))
        assert hdrs is not None and hdrs["x-compress-ids"] == ",".join(info["ids"])
        for marker_id in info["ids"]:
            text = loop.run_until_complete(bm25.expand(marker_id))
            assert text.strip() and text in LOG and ERROR_LINE not in text
    with pytest.raises(CompressError, match="0badc0de"):
        loop.run_until_complete(bm25.expand("0badc0de"))
    # the request names the domain; one no compressor has passes the request through, logged
    out = _call(loop, bm25, {"messages": agent_messages(), "compress": {"domain": "nl"}})
    assert out["metadata"]["compress"]["domains"] == ["nl"]
    out = _call(loop, bm25, {"messages": agent_messages(), "compress": {"domain": "poetry"}})
    assert out["messages"] == agent_messages() and out["metadata"]["compress"]["reason"] == "hook_error"
    # a hook without a compressor has nothing to expand
    with pytest.raises(CompressError, match="no compressor"):
        loop.run_until_complete(CompressHook().expand("0badc0de"))
