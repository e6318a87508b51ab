"""The baselines hold the budget they are given, by the target model's own tokenizer."""

from __future__ import annotations

import pytest

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.baselines import BaselineContext, make_baseline
from compress.infra.errors import CompressError
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE

TEXT = " ".join(f"word{i} alpha-{i} beta" for i in range(60))
COUNTER = TokenCounter("local/gemma3-270m", CACHE)


@pytest.fixture(scope="module")
def ctx() -> BaselineContext:
    return BaselineContext(CACHE, seed=7)


@pytest.mark.parametrize("name", ["truncate", "tail", "random"])
@pytest.mark.parametrize("budget", [1, 10, 57, 400])
def test_baselines_hold_the_budget(ctx: BaselineContext, name: str, budget: int) -> None:
    (out,) = make_baseline(name, ctx).compress_many([Request(TEXT, budget)], COUNTER)
    n = COUNTER.count(out.text)
    assert n <= budget
    if budget >= COUNTER.count(TEXT):
        assert out.text.strip() == TEXT.strip()
    elif budget >= 10:
        assert n >= budget - 4  # within a word of it


@pytest.mark.parametrize("name", ["truncate", "tail"])
def test_a_budget_beyond_the_text_keeps_all_of_it(ctx: BaselineContext, name: str) -> None:
    # tail once sliced ids[len - n:] with n > len: a negative start, and only the last few tokens came back
    text = "A short note of some twenty tokens, more or less, about nothing in particular at all."
    n = COUNTER.count(text)
    for budget in (n, n + 1, n + 8, 2 * n + 3):
        (out,) = make_baseline(name, ctx).compress_many([Request(text, budget)], COUNTER)
        assert out.text == text, (budget, out.text)


def test_truncate_keeps_the_head_tail_the_end_random_the_order(ctx: BaselineContext) -> None:
    head, end, rnd = (
        make_baseline(n, ctx).compress_many([Request(TEXT, 30)], COUNTER)[0].text
        for n in ("truncate", "tail", "random")
    )
    assert TEXT.startswith(head) and TEXT.endswith(end)
    source = iter(TEXT.split())
    assert all(w in source for w in rnd.split())  # the kept words are a subsequence: order kept
    assert rnd != head and rnd != end
    again = make_baseline("random", ctx).compress_many([Request(TEXT, 30)], COUNTER)[0].text
    other = make_baseline("random", BaselineContext(CACHE, seed=8)).compress_many(
        [Request(TEXT, 30)], COUNTER
    )
    assert again == rnd and other[0].text != rnd  # seeded: the same draw again, another seed another


def test_a_budget_is_required_and_names_are_checked(ctx: BaselineContext) -> None:
    with pytest.raises(CompressError, match="a budget"):
        make_baseline("tail", ctx).compress_many([Request(TEXT)], COUNTER)
    with pytest.raises(CompressError, match="unknown baseline 'middle'"):
        make_baseline("middle", ctx)


def test_selfinfo_keeps_a_bounded_cache_of_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    # a server compresses unboundedly many texts: only the last `scored_texts` keep their scores
    sel = make_baseline("selfinfo", BaselineContext(CACHE, scored_texts=2))
    teacher = sel._scorer()  # type: ignore[attr-defined]
    scored: list[str] = []
    real = teacher.token_surprisal

    def spy(text: str) -> tuple[list[tuple[int, int]], list[float]]:
        scored.append(text)
        return real(text)

    monkeypatch.setattr(teacher, "token_surprisal", spy)
    a, b, c = (f"Text {n}: the parser reads {n} lines and returns a list of tokens." for n in "abc")
    first = sel.compress_many([Request(a, 8)], COUNTER)[0].text
    sel.compress_many([Request(b, 8), Request(a, 6), Request(c, 8)], COUNTER)  # a used again: b is the oldest
    assert scored == [a, b, c]
    assert list(sel._scored) == [a, c]  # type: ignore[attr-defined]
    assert sel.compress_many([Request(a, 8)], COUNTER)[0].text == first and scored == [a, b, c]
    sel.compress_many([Request(b, 8)], COUNTER)
    assert scored == [a, b, c, b] and list(sel._scored) == [a, b]  # type: ignore[attr-defined]
