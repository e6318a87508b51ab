"""The batched llama.cpp engine: greedy answers for many callers at once, prefixes computed once."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from compress.llm.batched import BatchedLlamaCpp
from compress.llm.engine import LlamaCppEngine
from compress.models.bundled import gguf_path, render_prompt
from tests.conftest import CACHE

TEXT = (
    "The json module encodes Python objects as JSON text and decodes JSON text back into objects. "
    "dumps returns a string; dump writes to a file object. Keys are sorted when sort_keys is true."
)
QUESTIONS = [
    "What does dumps return?",
    "What is sorted when sort_keys is true?",
    "What does the module decode?",
    "Which function writes to a file object?",
]


def _prompt(question: str, text: str = TEXT) -> str:
    return render_prompt(
        [{"role": "user", "content": f"Text:\n{text}\n\nQuestion: {question}"}], "completion"
    )


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[BatchedLlamaCpp, LlamaCppEngine]]:
    path = gguf_path("gemma3-270m", CACHE)
    batched, single = BatchedLlamaCpp(path, threads=2, n_seq=4), LlamaCppEngine(path, threads=2)
    yield batched, single
    batched.close()
    single.close()


def test_a_lone_prompt_gets_the_one_sequence_answer(engines: tuple[BatchedLlamaCpp, LlamaCppEngine]) -> None:
    batched, single = engines
    for q in QUESTIONS[:2]:
        a, b = batched.complete(_prompt(q), 24, 0.0, ["\n\n"]), single.complete(_prompt(q), 24, 0.0, ["\n\n"])
        assert (a.text, a.completion_tokens, a.finish_reason) == (
            b.text,
            b.completion_tokens,
            b.finish_reason,
        )


def test_many_callers_at_once_within_their_limits(engines: tuple[BatchedLlamaCpp, LlamaCppEngine]) -> None:
    batched, _ = engines
    others = [TEXT.replace("json", name) for name in ("pickle", "marshal", "shelve")]
    prompts = [_prompt(q, t) for t in [TEXT, *others] for q in QUESTIONS]  # 16 calls, 4 slots
    with ThreadPoolExecutor(16) as pool:
        short = list(pool.map(lambda p: batched.complete(p, 6, 0.0, []), prompts))
        stopped = list(pool.map(lambda p: batched.complete(p, 64, 0.0, ["."]), prompts))
    assert all(0 < r.completion_tokens <= 6 for r in short)
    assert all("." not in r.text for r in stopped)
    assert all(r.finish_reason in ("stop", "length") for r in stopped)
    assert all(r.prompt_tokens == len(batched.tokenize(p)) for r, p in zip(short, prompts, strict=True))


def test_questions_about_one_text_compute_its_prefix_once(
    engines: tuple[BatchedLlamaCpp, LlamaCppEngine],
) -> None:
    batched, _ = engines
    text = TEXT + " A fresh sentence no earlier prompt held."
    first, second = _prompt(QUESTIONS[0], text), _prompt(QUESTIONS[1], text)
    (tokens1, shared1), (tokens2, shared2) = batched.split(first), batched.split(second)
    assert shared1 == shared2 > 0 and tokens1[:shared1] == tokens2[:shared2]  # the text is the shared context
    before = batched.prefilled
    batched.complete(first, 4, 0.0, [])
    assert batched.prefilled - before == len(tokens1)  # nothing cached: the whole prompt
    before = batched.prefilled
    batched.complete(second, 4, 0.0, [])
    assert batched.prefilled - before == len(tokens2) - shared2  # the text's tokens came from the cache


def test_sampling_calls_are_answered_one_at_a_time(engines: tuple[BatchedLlamaCpp, LlamaCppEngine]) -> None:
    batched, _ = engines
    out = batched.complete(_prompt(QUESTIONS[0]), 8, 0.8, [])
    assert 0 < out.completion_tokens <= 8
