"""The proxy's chat-history path: which messages form the history, and what compressing it jointly does
to a request (real compressors in the test's own process: bm25, joint-capable; truncate, not)."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest

from compress.serve.config import ProxyHistory, ProxySelect, ServeSettings
from compress.serve.host import CompressorHost
from compress.serve.metrics import Metrics
from compress.serve.proxy import NOT_JOINT, Overrides, compress_messages, remove_emptied, select_history
from tests.conftest import CACHE

FACT = "By the way, my locker code is 4417, please remember it."
QUESTION = "What is my locker code?"
SMALL_TALK = [
    "The weather was lovely this morning, so I walked to work along the river.",
    "I bought apples, pears and a loaf of rye bread at the market on Saturday.",
    "My cat keeps sleeping on the sofa in the sun all afternoon long.",
    "We watched a film about astronauts last night; the ending was sad.",
    "The train was twenty minutes late again, the third time this week.",
    "I need to call my sister tomorrow about her birthday party plans.",
    "The tomatoes in the garden finally turned red after all that rain.",
    "My new running shoes are much more comfortable than the old pair.",
    "Lunch was a cheese sandwich and a bowl of tomato soup at the cafe.",
    "The team meeting moved to Thursday because the manager is travelling.",
]
REPLIES = ["Noted.", "Sounds nice!", "Got it, thanks.", "Okay.", "I see, tell me more."]


def conversation(turns: int = 40, fact_at: int = 2) -> list[dict[str, Any]]:
    """A system prompt, then `turns` short alternating user/assistant messages, the user's message at
    index `fact_at` (of the turns) holding the locker code and the last one asking for it."""
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a friendly assistant."}]
    for i in range(turns - 1):
        if i % 2:
            messages.append({"role": "assistant", "content": REPLIES[i // 2 % len(REPLIES)]})
        else:
            text = FACT if i == fact_at else SMALL_TALK[i // 2 % len(SMALL_TALK)]
            messages.append({"role": "user", "content": text})
    messages.append({"role": "user", "content": QUESTION})
    return messages


RULES = ProxySelect(min_chars=2000, rate=0.25, history=ProxyHistory(min_tokens=200, keep_last=2))


def test_the_history_is_the_earlier_turns_without_system_tools_marks_or_the_last_messages() -> None:
    long_tool = "result line\n" * 300
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Be brief."},  # 0: the instructions
        {"role": "developer", "content": "Be kind."},  # 1
        {"role": "user", "content": SMALL_TALK[0]},  # 2: history
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},  # 3
        {"role": "tool", "tool_call_id": "c1", "content": long_tool},  # 4: the call's result
        {"role": "assistant", "content": [{"type": "text", "text": SMALL_TALK[1]}, {"type": "image_url"}]},
        {"role": "user", "content": SMALL_TALK[2], "compress": False},  # 6: marked
        {"role": "user", "content": f"<compress>{SMALL_TALK[3]}</compress> kept"},  # 7: a span
        {"role": "user", "content": "   "},  # 8: nothing to compress
        {"role": "assistant", "content": SMALL_TALK[4]},  # 9: history
        {"role": "assistant", "content": SMALL_TALK[5]},  # 10: one of the last two
        {"role": "user", "content": QUESTION},  # 11: the question
    ]
    segments = select_history(messages, ProxySelect(history=ProxyHistory(min_tokens=1, keep_last=2)))
    assert [(s.message, s.part) for s in segments] == [(2, None), (5, 0), (9, None)]
    assert segments[1].text == SMALL_TALK[1]
    # the last user message is never history, even when more messages follow it
    tail = [
        {"role": "user", "content": SMALL_TALK[6]},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": SMALL_TALK[7]},
        {"role": "assistant", "content": SMALL_TALK[8]},
    ]
    segments = select_history(tail, ProxySelect(history=ProxyHistory(min_tokens=1, keep_last=1)))
    assert [s.message for s in segments] == [0, 2]
    # keep_last wider: fewer; spans off: the tags are plain text and the message is history
    segments = select_history(
        messages, ProxySelect(spans=False, history=ProxyHistory(min_tokens=1, keep_last=4))
    )
    assert [s.message for s in segments] == [2, 5, 7]


def test_a_short_or_disabled_history_selects_nothing() -> None:
    messages = conversation()
    assert len(select_history(messages, RULES)) == 38  # every turn but the system prompt and the last two
    assert select_history(messages, ProxySelect()) == []  # ~500 tokens: under the default 1500
    assert select_history(messages, ProxySelect(history=ProxyHistory(enabled=False, min_tokens=0))) == []
    assert select_history(messages[:3], ProxySelect(history=ProxyHistory(min_tokens=0))) == []


def test_emptied_history_texts_remove_their_parts_and_then_their_messages() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": ""},
        {"role": "assistant", "content": [{"type": "text", "text": ""}, {"type": "image_url"}]},
        {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "kept"}]},
        {"role": "assistant", "content": [{"type": "text", "text": ""}]},
        {"role": "user", "content": "kept"},
    ]
    segments = select_history(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": [{"type": "text", "text": "b"}, {"type": "image_url"}]},
            {"role": "user", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "e"}]},
            {"role": "user", "content": "f"},
        ],
        ProxySelect(history=ProxyHistory(min_tokens=0, keep_last=1)),
    )
    out, removed = remove_emptied(messages, segments, ["", "", "", "kept", ""])
    assert removed == 2
    assert out == [
        {"role": "assistant", "content": [{"type": "image_url"}]},
        {"role": "user", "content": [{"type": "text", "text": "kept"}]},
        {"role": "user", "content": "kept"},
    ]


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def _host(loop: asyncio.AbstractEventLoop, spec: str) -> CompressorHost:
    host = CompressorHost(ServeSettings(spec=spec, worker="thread", cache_dir=CACHE), Metrics())

    async def started() -> None:
        host.start()
        await host.wait_loaded(120)

    loop.run_until_complete(started())
    assert host.state == "ready", host.error
    return host


@pytest.fixture(scope="module")
def hosts(loop: asyncio.AbstractEventLoop) -> Iterator[dict[str, CompressorHost]]:
    made = {"bm25": _host(loop, "bm25"), "truncate": _host(loop, "truncate")}
    yield made
    for h in made.values():
        loop.run_until_complete(h.close())


def _compress(
    loop: asyncio.AbstractEventLoop,
    host: CompressorHost,
    messages: list[dict[str, Any]],
    rules: ProxySelect = RULES,
    over: Overrides | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return loop.run_until_complete(
        compress_messages(copy.deepcopy(messages), rules, over or Overrides(), host)
    )


def test_the_history_is_compressed_jointly_in_one_budget_and_emptied_messages_removed(
    loop: asyncio.AbstractEventLoop, hosts: dict[str, CompressorHost]
) -> None:
    host = hosts["bm25"]
    assert host.joint is True and hosts["truncate"].joint is False
    messages = conversation()
    sent, info = _compress(loop, host, messages)
    # the system prompt and the last two messages as they came; the fact kept; most turns removed
    assert sent[0] == messages[0] and sent[-2:] == messages[-2:]
    assert {"role": "user", "content": FACT} in sent
    assert len(sent) < 3 + 38 // 3
    assert all(m.get("content") for m in sent)
    # order and roles kept: what is left is a subsequence of the request
    rest = iter(messages)
    assert all(any(m == o for o in rest) for m in sent)
    h = info["history"]
    assert h["joint"] is True and h["messages"] == 38 and h["removed"] == len(messages) - len(sent)
    assert info["status"] == "compressed" and info["segments"] == 38 and "reason" not in info
    assert (info["tokens_before"], info["tokens_after"]) == (h["tokens_before"], h["tokens_after"])
    # one budget: the rate of the history's tokens together (the joint text counts its separators too)
    assert h["tokens_after"] <= 0.25 * h["tokens_before"] + 8
    # the request's own target_tokens is the budget of the whole history
    sent, info = _compress(loop, host, messages, over=Overrides(target_tokens=40))
    assert info["history"]["tokens_after"] <= 40 and {"role": "user", "content": FACT} in sent
    # compression off: nothing happens
    sent, info = _compress(loop, host, messages, over=Overrides(enabled=False))
    assert sent == messages and info["segments"] == 0 and "history" not in info


def test_a_long_message_outside_the_history_still_goes_on_its_own(
    loop: asyncio.AbstractEventLoop, hosts: dict[str, CompressorHost]
) -> None:
    long_tool = " ".join(f"Row {i}: the locker room was cleaned at {i} o'clock." for i in range(60))
    messages = conversation()
    messages[5:5] = [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c1", "content": long_tool},
    ]
    sent, info = _compress(loop, hosts["bm25"], messages, ProxySelect(min_chars=500, history=RULES.history))
    assert sent[5] == messages[5]  # the call: untouched
    assert sent[6]["role"] == "tool" and len(sent[6]["content"]) < len(long_tool)  # per message
    assert info["segments"] == 38 + 1 and info["history"]["messages"] == 38


def test_a_compressor_without_joint_leaves_the_history_to_the_per_message_rules(
    loop: asyncio.AbstractEventLoop, hosts: dict[str, CompressorHost]
) -> None:
    messages = conversation()
    sent, info = _compress(loop, hosts["truncate"], messages)
    assert sent == messages  # every message short: the per-message rules select none
    assert info["reason"] == NOT_JOINT and info["history"] == {"messages": 38, "joint": False}
    assert info["status"] == "passthrough" and info["segments"] == 0
    rules = ProxySelect(min_chars=40, history=RULES.history)
    sent, info = _compress(loop, hosts["truncate"], messages, rules)
    assert len(sent) == len(messages) and info["segments"] > 0 and info["reason"] == NOT_JOINT


def test_a_history_the_compressor_refuses_as_one_context_goes_message_by_message(
    loop: asyncio.AbstractEventLoop, hosts: dict[str, CompressorHost]
) -> None:
    # a selector keeps whole statements of code per file: it refuses code as one joint context
    code = [
        f"def handler_{i}(request):\n    value = request.get('key_{i}')\n    if value is None:\n"
        f"        return {{'status': 404}}\n    return {{'status': 200, 'value': value}}\n"
        for i in range(12)
    ]
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You review code."}]
    for c in code:
        messages += [{"role": "user", "content": c}, {"role": "assistant", "content": "ok"}]
    messages.append({"role": "user", "content": "Which handler reads key_7?"})
    sent, info = _compress(loop, hosts["bm25"], messages, ProxySelect(min_chars=100, history=RULES.history))
    assert len(sent) == len(messages) and info["reason"] == NOT_JOINT
    assert info["history"] == {"messages": 23, "joint": False}
    assert info["segments"] == 12 and info["status"] == "compressed"  # each code message on its own
