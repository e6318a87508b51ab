"""Tool results in the proxy's selection (no server, no compressor): each is compressed for the last user
message plus the call that produced it, the calls' own arguments stay as they are, a request or a
config may name the domain, and the summary's lists reach the headers. The agent's log request built
here is what the server's, the hook's and the command's tests send through real compressors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from compress.serve.config import DOMAIN_NAMES, ProxySelect
from compress.serve.proxy import CALL_QUERY_CHARS, ChatBody, Overrides, apply, call_of, headers, select

ERROR_LINE = "2026-12-06 10:03:12 ERROR worker-2 disk full on /var/data"
ERROR_AT = 150  # the error's line: the middle of the log
FIRST_ASK = "Check the service logs and tell me which worker reported an error."
QUESTION = "Which worker reported an error?"
CALL_ID = "call_read_logs_1"
CALL_ARGS = json.dumps({"path": "/var/log/service.log"})


def service_log(lines: int = 300) -> str:
    """A service's log: heartbeats of workers 1-4 (timestamps a second or so apart, each worker's own
    sequence number), with ERROR_LINE alone at line ERROR_AT, stamped 10:03:12 like its neighbours."""
    out, seq = [], {w: 10 for w in range(1, 5)}
    for i in range(lines):
        if i == ERROR_AT:
            out.append(ERROR_LINE)
            continue
        worker = i % 4 + 1
        seq[worker] += 1
        s = i * 192 // ERROR_AT  # line ERROR_AT falls on 10:03:12 (192 s after 10:00:00)
        out.append(
            f"2026-12-06 10:{s // 60:02d}:{s % 60:02d} INFO worker-{worker} heartbeat ok seq={seq[worker]}"
        )
    return "\n".join(out) + "\n"


LOG = service_log()


def agent_messages(log: str = LOG) -> list[dict[str, Any]]:
    """An agent's request: a system prompt, the user's ask, the assistant calling `read_logs`, the
    tool's answer (the log) and the user's question."""
    return [
        {"role": "system", "content": "You are an operations assistant. Use the tools to answer."},
        {"role": "user", "content": FIRST_ASK},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": CALL_ID, "type": "function", "function": {"name": "read_logs", "arguments": CALL_ARGS}}
            ],
        },
        {"role": "tool", "tool_call_id": CALL_ID, "content": log},
        {"role": "user", "content": QUESTION},
    ]


def test_the_log_is_what_the_other_tests_assume() -> None:
    lines = LOG.splitlines()
    assert len(lines) == 300 and lines[ERROR_AT] == ERROR_LINE
    assert sum("ERROR" in line for line in lines) == 1
    assert lines[1] == "2026-12-06 10:00:01 INFO worker-2 heartbeat ok seq=11"
    assert {line.split()[3] for line in lines} == {f"worker-{w}" for w in range(1, 5)}


def test_a_tool_result_is_compressed_for_the_question_and_its_call() -> None:
    messages = agent_messages()
    segments, query = select(messages, ProxySelect(min_chars=2000))
    assert query == QUESTION
    assert [s.message for s in segments] == [3]  # the tool result: long; the rest short or the question
    assert segments[0].query == f"{QUESTION}\nread_logs {CALL_ARGS}"
    # no query at all when the config says so
    segments, query = select(messages, ProxySelect(min_chars=2000, query="none"))
    assert query is None and segments[0].query is None


def test_a_call_is_found_by_its_id_and_a_legacy_function_by_its_name() -> None:
    long_args = json.dumps({"path": "notes.md", "content": "x" * 5000})
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "Write the notes, then list the folder."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "write_file", "arguments": long_args}},
                {"id": "b", "type": "function", "function": {"name": "list_dir", "arguments": {"path": "."}}},
            ],
        },
        {"role": "tool", "tool_call_id": "b", "content": "notes.md\nsetup.py"},
        {"role": "tool", "tool_call_id": "a", "content": "written"},
        {"role": "tool", "tool_call_id": "nope", "content": "orphan"},
        {
            "role": "assistant",
            "content": None,
            "function_call": {"name": "search", "arguments": '{"q": "x"}'},
        },
        {"role": "function", "name": "search", "content": "3 hits"},
        {"role": "function", "name": "weather", "content": "sunny"},
    ]
    assert call_of(messages, 2) == 'list_dir {"path": "."}'  # arguments sent as an object: as JSON
    written = call_of(messages, 3)
    assert (
        written is not None and written.startswith("write_file {") and len(written) == 11 + CALL_QUERY_CHARS
    )
    assert call_of(messages, 4) is None
    assert call_of(messages, 6) == 'search {"q": "x"}'
    assert call_of(messages, 7) == "weather"  # no call of that name: the name alone
    # `tool` in the roles covers `function` results; the calls themselves are never selected
    segments, _ = select(messages, ProxySelect(min_chars=5, roles=["tool"], keep_last_user=False))
    assert [s.message for s in segments] == [2, 3, 4, 6, 7]
    assert segments[3].query == messages[0]["content"] + '\nsearch {"q": "x"}'
    out = apply(messages, segments, ["c"] * 5, spans=True)
    assert out[1] == messages[1] and out[5] == messages[5]


def test_a_domain_is_checked_in_a_request_and_in_the_config() -> None:
    assert set(DOMAIN_NAMES) == {"nl", "code", "memory", "json", "log", "listing"}
    assert Overrides(domain="log").domain == "log" and ProxySelect(domain="listing").domain == "listing"
    for bad in ("poetry", "LOG"):
        with pytest.raises(ValidationError, match=f"domain '{bad}' is unknown"):
            ChatBody.model_validate(
                {"model": "m", "messages": [{"role": "user"}], "compress": {"domain": bad}}
            )
        with pytest.raises(ValidationError, match="json, log, listing"):
            ProxySelect(domain=bad)


def test_the_summary_lists_become_headers() -> None:
    info = {"status": "compressed", "segments": 2, "domains": ["log", "nl"], "ids": ["3f9a2b1c", "77aa00bb"]}
    assert headers(info) == {
        "x-compress-status": "compressed",
        "x-compress-segments": "2",
        "x-compress-domains": "log,nl",
        "x-compress-ids": "3f9a2b1c,77aa00bb",
    }
    assert "x-compress-ids" not in headers({"status": "passthrough", "ids": []})
