"""Tracing cases: the answer once in the context, code haystacks still parse, hops and haystacks
balanced, the chain in order, only the statement the question starts from shares words with it."""

from __future__ import annotations

import ast
import re
from collections import Counter

import pytest

from compress.algorithms.data.memory import content_words
from compress.algorithms.data.tracing import (
    TracingCase,
    answer_statement,
    generate_tracing,
    unlinked_statements,
)


@pytest.fixture(scope="module")
def cases() -> list[TracingCase]:
    return generate_tracing(12, seed=0, haystack_tokens=1500)


def test_balanced(cases: list[TracingCase]) -> None:
    assert Counter(c.hops for c in cases) == {1: 4, 2: 4, 3: 4}
    assert Counter((c.hops, c.haystack) for c in cases) == {
        (h, k): 2 for h in (1, 2, 3) for k in ("prose", "code")
    }
    assert all(len(c.evidence) == c.hops for c in cases)


def test_answer_once_and_in_its_statement(cases: list[TracingCase]) -> None:
    for c in cases:
        flags = re.IGNORECASE if c.haystack == "prose" else 0
        assert len(re.findall(re.escape(c.answer), c.context, flags)) == 1
        assert c.answer in answer_statement(c)


def test_chain_in_order_each_its_own_piece(cases: list[TracingCase]) -> None:
    for c in cases:
        sep = "\n\n"
        pieces = c.context.strip("\n").split(sep)
        where = [pieces.index(st) for st in c.evidence]
        assert where == sorted(where)


def test_code_parses_and_traces(cases: list[TracingCase]) -> None:
    for c in (c for c in cases if c.haystack == "code"):
        ast.parse(c.context)
        env: dict = {}
        exec("\n".join(c.evidence), env)  # the chain alone evaluates to the answer
        var = c.evidence[-1].split(" = ")[0]
        assert str(env[var]) == c.answer and var in c.question


def test_unlinked_statements_share_no_word(cases: list[TracingCase]) -> None:
    for c in cases:
        q = content_words(c.question)
        for st in unlinked_statements(c):
            assert not q & content_words(st), (c.question, st)
        if c.hops >= 2:
            assert not q & content_words(answer_statement(c))
        if c.haystack == "prose":
            assert q & content_words(c.evidence[0])


def test_sizes_and_determinism(cases: list[TracingCase]) -> None:
    prose = [c for c in cases if c.haystack == "prose"]
    assert all(1500 <= len(c.context.split()) / 0.75 <= 1500 + 600 for c in prose)
    again = generate_tracing(12, seed=0, haystack_tokens=1500)
    assert again == cases
    assert generate_tracing(3, seed=1, haystack_tokens=1500)[0].context != cases[0].context
