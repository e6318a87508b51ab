"""Word spans, rendering and selection to a budget: what the classifier's labels and inference share."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from compress.algorithms.text.words import (
    inside,
    largest_within,
    protected,
    query_words,
    render,
    select,
    split_words,
    word_costs,
)
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE

CODE = '''def area(width, height):
    """Area of a rectangle."""
    if width < 0 or height < 0:
        raise ValueError("negative side")
    return width * height


class Box:
    def volume(self, depth):
        return area(self.w, self.h) * depth
'''


def test_all_kept_renders_the_text_and_kept_lines_keep_their_indentation() -> None:
    words = split_words(CODE)
    assert render(words, np.ones(len(words), dtype=bool)) == CODE.rstrip()
    # drop the docstring line and the if/raise lines: the rest is still valid, indented code
    keep = ~np.isin(words.line, [1, 2, 3])
    out = render(words, keep)
    ast.parse(out)
    assert "    return width * height" in out and "        return area(self.w, self.h) * depth" in out


def test_dropping_a_line_start_keeps_the_line_break_and_its_indentation() -> None:
    text = "alpha beta\n    gamma delta\nepsilon"
    words = split_words(text)
    keep = np.array([True, False, False, True, True])
    assert render(words, keep) == "alpha\n    delta\nepsilon"
    assert render(words, np.array([False, True, True, False, False])) == "beta\n    gamma"
    assert render(words, np.zeros(5, dtype=bool)) == ""


def test_protection_is_by_whole_words_and_covers_forced_strings() -> None:
    text = "Call parse_args(argv) with 3.11 or ask Dr. Who about it."
    words = split_words(text)
    guard = protected(words, ["numbers", "identifiers"], [], force_tokens=["Who"])
    kept = {words.word(int(i)) for i in np.flatnonzero(guard)}
    assert kept == {"parse_args(argv)", "3.11", "Who"}
    code = split_words(CODE)
    sig = protected(code, [], [r"^\s*(async\s+)?def "])
    assert {code.word(int(i)) for i in np.flatnonzero(sig)} == {"def"}


def test_extractive_spans_give_the_exact_mask() -> None:
    text = "one two three\nfour five"
    words = split_words(text)
    assert inside(words, [(0, 4), (14, 24)]).tolist() == [True, False, False, True, True]


def test_query_words_are_the_content_words_it_names() -> None:
    words = split_words("The zebra eats grass; the Lion eats zebras.")
    named = query_words(words, "What does the text say about the lion and the zebra?")
    assert [words.word(int(i)) for i in np.flatnonzero(named)] == ["zebra", "Lion"]


def test_largest_within_finds_the_edge_from_any_guess() -> None:
    costs = np.cumsum([3, 1, 4, 1, 5, 9, 2, 6])
    cost = lambda k: int(costs[k - 1]) if k else 0  # noqa: E731
    for budget in range(0, 35):
        want = max([k for k in range(9) if cost(k) <= budget])
        for guess in (0, 3, 8, 20):
            assert largest_within(8, guess, cost, budget) == want
    assert largest_within(8, 0, cost, 0, lo_bound=2) == 2


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter("local/gemma3-270m", CACHE)


def test_word_costs_add_up_to_the_text_and_selection_holds_the_budget(counter: TokenCounter) -> None:
    text = "Compression keeps the informative words, numbers like 42 and names like os.path.join."
    words = split_words(text)
    costs = word_costs(words, counter)
    assert costs.sum() == counter.count(text) and (costs >= 1).all()
    scores = np.linspace(1, 0, len(words))
    guard = protected(words, ["numbers", "identifiers"], [])
    for budget in (1, 5, 9, 14):
        keep = select(words, scores, guard, budget, counter.count, costs)
        assert keep[guard].all()
        n = counter.count(render(words, keep))
        if n > budget:  # only the guarded words may take it over
            assert keep.sum() == guard.sum()
        else:
            unkept = [i for i in range(len(words)) if not keep[i]]
            # the next word in the ranking would not have fitted
            nxt = max(unkept, key=lambda i: scores[i]) if unkept else None
            if nxt is not None:
                more = keep.copy()
                more[nxt] = True
                assert counter.count(render(words, more)) > budget
