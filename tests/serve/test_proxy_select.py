"""Which parts of a chat request the proxy compresses, and how it puts the results back (no server)."""

from __future__ import annotations

from typing import Any

from compress.serve.config import ProxySelect
from compress.serve.proxy import apply, select

LONG = "x" * 300


def test_roles_length_and_the_last_question_decide() -> None:
    messages = [
        {"role": "system", "content": LONG},
        {"role": "user", "content": LONG},
        {"role": "tool", "content": "short"},
        {"role": "user", "content": LONG + " and the question?"},
    ]
    segments, query = select(messages, ProxySelect(min_chars=200))
    assert [s.message for s in segments] == [1]  # system: not a selected role; tool: short; last user: kept
    assert query == LONG + " and the question?"
    segments, _ = select(messages, ProxySelect(min_chars=200, roles=["system", "user"], keep_last_user=False))
    assert [s.message for s in segments] == [0, 1, 3]
    assert select(messages, ProxySelect(min_chars=200, query="none"))[1] is None


def test_spans_and_markers_win_over_the_rules_and_never_reach_the_model() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "A <compress>one</compress> B <compress>two</compress> C"},
        {"role": "user", "content": LONG, "compress": False},
        {"role": "assistant", "content": "tiny", "compress": True},
        {
            "role": "user",
            "content": [{"type": "text", "text": "<compress>three</compress>!"}, {"type": "image_url"}],
        },
    ]
    segments, _ = select(messages, ProxySelect(min_chars=200))
    assert [(s.message, s.part, s.text) for s in segments] == [
        (0, None, "one"),
        (0, None, "two"),
        (2, None, "tiny"),
        (3, 0, "three"),
    ]
    out = apply(messages, segments, ["1", "2", "t", "3"], spans=True)
    assert out[0]["content"] == "A 1 B 2 C"
    assert out[1] == {"role": "user", "content": LONG}
    assert out[2] == {"role": "assistant", "content": "t"}
    assert out[3]["content"] == [{"type": "text", "text": "3!"}, {"type": "image_url"}]
    assert messages[0]["content"].startswith("A <compress>")  # the request itself is left as it was
    # spans off: the tags are ordinary text, the rules decide
    segments, _ = select(messages, ProxySelect(min_chars=200, spans=False))
    assert [s.message for s in segments] == [2]
