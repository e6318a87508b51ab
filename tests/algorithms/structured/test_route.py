"""`route`: the shape of a tool output by rules, with no false positives on prose, code or chat."""

from __future__ import annotations

import json
import time

import pytest

from compress.algorithms.structured import TOOL_SHAPES, route
from tests.algorithms.structured.samples import (
    JSON_ARRAY,
    JSONL,
    LISTINGS,
    LOGS,
    NOT_TOOL_OUTPUTS,
    heartbeat_log,
)


@pytest.mark.parametrize("name", sorted(NOT_TOOL_OUTPUTS))
def test_prose_code_and_chat_are_no_tool_output(name: str) -> None:
    assert route(NOT_TOOL_OUTPUTS[name]) is None, name


@pytest.mark.parametrize("name", sorted(LOGS))
def test_logs(name: str) -> None:
    assert route(LOGS[name]) == "log", name


@pytest.mark.parametrize("name", sorted(LISTINGS))
def test_listings(name: str) -> None:
    assert route(LISTINGS[name]) == "listing", name


def test_json_and_json_lines() -> None:
    assert TOOL_SHAPES == ("json", "log", "listing")
    assert route(JSON_ARRAY) == "json" and route('  {"a": 1}\n') == "json" and route(JSONL) == "json"
    assert route(json.dumps({"k": [1, 2]}, indent=4)) == "json"
    # truncated JSON, a scalar, a bracketed citation, one line of JSON Lines gone bad: not JSON
    assert route(JSON_ARRAY[: len(JSON_ARRAY) // 2]) != "json"
    assert route('"just a string"') is None and route("42") is None
    assert route("[1] Smith, J. (2020). A study.") is None
    assert route(JSONL + "\nnot json") != "json"


def test_short_and_empty_texts_are_no_tool_output() -> None:
    assert route("") is None and route("   \n") is None
    assert route("2026-12-06 10:00:01 INFO up") is None  # one line: nothing to route


def test_routing_takes_microseconds_to_milliseconds() -> None:
    big = heartbeat_log(20_000)
    route(big)
    t0 = time.perf_counter()
    for _ in range(5):
        assert route(big) == "log"
    assert (time.perf_counter() - t0) / 5 < 0.05  # a 20k-line log: it reads 400 lines of it
    t0 = time.perf_counter()
    for _ in range(200):
        route(NOT_TOOL_OUTPUTS["prose"])
    assert (time.perf_counter() - t0) / 200 < 0.002
