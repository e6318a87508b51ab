"""The gold-task runner with fake compressors and canned answers: which method runs at which budget
with the question as its query, exact accuracies, changes against the original context, reductions,
accuracy by needle position, the trained compressor's paired comparisons, each distinct prompt once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, cast

import pytest
from omegaconf import OmegaConf

from compress.algorithms.compressors.base import Capabilities, Compressed, Compressor, Request
from compress.algorithms.metrics.cloze import ClozeItem
from compress.algorithms.metrics.gold import GoldItem
from compress.algorithms.metrics.gold_runner import KEPT, gold_tasks, runner_tasks, task_pairs, task_points
from compress.algorithms.metrics.needle import SEPARATOR
from compress.infra.llm.client import ChatRequest, ChatResult
from compress.infra.llm.tokens import TokenCounter


class CannedLLM:
    """Model `a` reads: asked to go on with a quote, it gives the word after the quote in the text;
    else the first number of the context. Any other model says "none"."""

    def __init__(self) -> None:
        self.asked: list[ChatRequest] = []
        self.calls = 0

    def run_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        self.calls += 1
        self.asked += requests
        return [ChatResult(r.key, r.model, self._answer(r), 0, 0, 1) for r in requests]

    def _answer(self, r: ChatRequest) -> str:
        if r.model != "a":
            return "none"
        body, ask = r.messages[0]["content"].rsplit("\n\n", 1)
        words = body.split()
        if '"' in ask:
            quote = ask.rsplit('"', 1)[1].split()
            hits = [i for i in range(len(words)) if words[i : i + len(quote)] == quote]
            return words[hits[0] + len(quote)] if hits and hits[0] + len(quote) < len(words) else "none"
        number = re.search(r"\d+", body)
        return number.group(0) if number else "none"


class Words:
    """A fake compressor on white-space words: the first (`head`), the last (`tail`) or the number
    words first (`digits`) within the budget, order kept; the original when it has no budget rule."""

    def __init__(self, name: str, keep: str) -> None:
        self.name, self.keep = name, keep
        self.requests: list[Request] = []

    capabilities = Capabilities()

    def compress_many(self, requests: Sequence[Request], counter: Any) -> list[Compressed]:
        self.requests += requests
        return [Compressed(self._one(r), 0.0) for r in requests]

    def _one(self, r: Request) -> str:
        words = r.text.split()
        n = len(words) if r.budget is None else r.budget
        if self.keep == "all":
            return r.text
        if self.keep == "head":
            return " ".join(words[:n])
        if self.keep == "tail":
            return " ".join(words[len(words) - n :])
        ranked = sorted(range(len(words)), key=lambda i: (not any(c.isdigit() for c in words[i]), i))
        return " ".join(words[i] for i in sorted(ranked[:n]))


class WordCounter:
    """Tokens are white-space words."""

    def count(self, text: str) -> int:
        return len(text.split())

    def prefetch(self, texts: Iterable[str]) -> None:
        list(texts)


ITEMS = [
    GoldItem("qa", "q1", "the year was 1969 indeed", "When?", ["1969"]),
    GoldItem("qa", "q2", "it cost 42 dollars", "How much?", ["42"]),
    GoldItem("qa", "q3", "nothing here but 7", "Which?", ["7"]),
    GoldItem("qa", "q4", "9 is the answer", "What?", ["9"]),
]
EV = OmegaConf.create({"task_rates": [0.5], "qa": {"max_tokens": 8}, "needle": {"max_tokens": 8}})


def _methods() -> dict[str, Words]:
    return {
        "trained": Words("trained", "digits"),
        "identity": Words("identity", "all"),
        "truncate": Words("truncate", "head"),
        "tail": Words("tail", "tail"),
    }


def test_which_method_runs_at_which_budget() -> None:
    base = ["identity", "truncate"]
    assert task_points(base, [0.5, 0.25], rate_controlled=True) == [
        ("trained", 0.5), ("identity", 0.5), ("truncate", 0.5),
        ("trained", 0.25), ("identity", 0.25), ("truncate", 0.25),
    ]  # fmt: skip
    own = task_points(base, [0.5], rate_controlled=False)
    assert own == [
        ("trained", None),
        ("identity", None),
        ("truncate", None),
        ("identity", 0.5),
        ("truncate", 0.5),
    ]
    assert task_pairs(own) == [
        (("trained", None), ("identity", None)),
        (("trained", None), ("truncate", None)),
    ]
    assert runner_tasks(["cloze", "needle", "qa"]) == ["needle", "qa"]


def test_a_rate_controlled_trained_compressor_against_every_baseline_at_each_rate() -> None:
    llm, methods = CannedLLM(), _methods()
    compressors: dict[str, Compressor] = dict(methods)
    results, comparisons = gold_tasks(
        llm, EV, ITEMS, compressors, cast(TokenCounter, WordCounter()), ["a", "b"], seed=0
    )
    by = {(r.method, r.rate, r.model): r for r in results}
    assert list(by) == [
        (m, 0.5, mo) for m in ("trained", "identity", "truncate", "tail") for mo in ("a", "b")
    ]
    # half of 5, 4, 4, 4 words: 2 each; the number words first keep every answer, the head one, the tail three
    acc = {m: by[(m, 0.5, "a")].accuracy for m in methods}
    assert acc == {"trained": 1.0, "identity": 1.0, "truncate": 0.25, "tail": 0.75}
    assert by[("truncate", 0.5, "a")].delta == -0.75 and by[("tail", 0.5, "a")].delta == -0.25
    assert by[("trained", 0.5, "b")].accuracy == 0.0 and by[("trained", 0.5, "b")].delta == 0.0
    # 17 words down to 8
    assert by[("trained", 0.5, "a")].token_reduction == pytest.approx(9 / 17)
    assert by[("identity", 0.5, "a")].token_reduction == 0.0
    assert all(r.by_position == [] and r.task == "qa" and r.n == 4 for r in results)
    # every method got the question as its query and the same budget
    for m in methods.values():
        assert [(r.query, r.budget) for r in m.requests] == [
            ("When?", 2), ("How much?", 2), ("Which?", 2), ("What?", 2)
        ]  # fmt: skip
    # the trained compressor against each baseline, per answering model
    rows = {(c.baseline, c.model): c for c in comparisons}
    assert list(rows) == [(b, mo) for b in ("identity", "truncate", "tail") for mo in ("a", "b")]
    vs_head = rows[("truncate", "a")]
    assert (vs_head.method, vs_head.metric, vs_head.rate, vs_head.n) == ("trained", "task:qa", 0.5, 4)
    assert (vs_head.method_mean, vs_head.baseline_mean, vs_head.diff) == (1.0, 0.25, 0.75)
    assert (vs_head.ci_low, vs_head.ci_high) == (0.25, 1.0)
    assert rows[("identity", "a")].diff == 0.0 and rows[("tail", "b")].diff == 0.0
    # one batch; 4 methods x 4 items x 2 models less q4's "9 is", which trained and truncate share
    assert llm.calls == 1 and len(llm.asked) == 30 == len({r.key for r in llm.asked})


def test_a_trained_compressor_that_writes_its_own_length_with_baselines_matched_to_it() -> None:
    llm, methods = CannedLLM(), _methods()
    compressors: dict[str, Compressor] = dict(methods)
    results, comparisons = gold_tasks(
        llm,
        EV,
        ITEMS,
        compressors,
        cast(TokenCounter, WordCounter()),
        ["a"],
        seed=0,
        own_budget=lambda n: n - 1,
    )
    acc = {(r.method, r.rate): r.accuracy for r in results}
    # at its own budget (4, 3, 3, 3 words) and the baselines matched to what it wrote
    assert acc == {
        ("trained", None): 1.0, ("identity", None): 1.0, ("truncate", None): 0.75, ("tail", None): 0.75,
        ("identity", 0.5): 1.0, ("truncate", 0.5): 0.25, ("tail", 0.5): 0.75,
    }  # fmt: skip
    assert [r.budget for r in methods["trained"].requests] == [4, 3, 3, 3]
    assert [r.budget for r in methods["truncate"].requests] == [4, 3, 3, 3, 2, 2, 2, 2]
    # compared where it ran only
    assert [(c.baseline, c.rate, c.diff) for c in comparisons] == [
        ("identity", None, 0.0), ("truncate", None, 0.25), ("tail", None, 0.25)
    ]  # fmt: skip


def _needle(fact: str, position: int) -> GoldItem:
    left = f"{fact} code is"
    answer = {"alpha": "11", "beta": "22", "gamma": "33"}[fact]
    item = ClozeItem(fact, 0, 1, "number", f"{left} ____", left, answer, len(left) + 1)
    context = SEPARATOR.join(["alpha code is 11", "beta code is 22", "gamma code is 33"])
    return GoldItem(
        "needle", fact, context, f'go on: "{left}', [answer], fact=item, position=position, n_texts=3
    )


def test_needle_accuracy_by_position() -> None:
    items = [_needle("alpha", 0), _needle("beta", 1), _needle("gamma", 2)]
    llm, methods = CannedLLM(), _methods()
    compressors: dict[str, Compressor] = dict(methods)
    results, comparisons = gold_tasks(
        llm, EV, items, compressors, cast(TokenCounter, WordCounter()), ["a"], seed=0
    )
    by = {r.method: r for r in results if r.model == "a"}
    # half of 12 words: the head keeps the first text and a half, the tail the last and a half
    assert by["identity"].by_position == [1.0, 1.0, 1.0]
    assert by["truncate"].by_position == [1.0, 0.0, 0.0] and by["truncate"].accuracy == pytest.approx(1 / 3)
    assert by["tail"].by_position == [0.0, 0.0, 1.0]
    # with no model: the tail's "is 22 gamma code is 33" still holds beta's answer, which the reader,
    # missing "beta code is", cannot use
    kept = {r.method: r.by_position for r in results if r.model == KEPT}
    assert kept["tail"] == [0.0, 1.0, 1.0] and kept["truncate"] == [1.0, 0.0, 0.0]
    assert {c.metric for c in comparisons} == {"task:needle"}
    # the question reaches every method as its query
    assert [r.query for r in methods["tail"].requests] == [it.question for it in items]


def test_memory_items_are_graded_by_their_checks_and_by_kind() -> None:
    items = [
        GoldItem("memory", "m1", "we met in 1969 at the fair", "When?", ["1969"], evidence=("1969 at the fair",), kind="temporal"),
        GoldItem("memory", "m2", "it cost 42 dollars back then", "How much?", ["42"], evidence=("42 dollars back",), kind="single-hop"),
        GoldItem("memory", "m3", "the code is 7 and it was new", "Which?", ["7"], evidence=("7 and it was",), kind="single-hop"),
    ]  # fmt: skip
    ev = OmegaConf.create({"task_rates": [0.5], "memory": {"max_tokens": 8, "read_items": 1}})
    results, comparisons = gold_tasks(
        CannedLLM(), ev, items, dict(_methods()), cast(TokenCounter, WordCounter()), ["a"], seed=0
    )
    got = {(r.task, r.method, r.model): (r.n, r.accuracy) for r in results}
    # every question checked with no model; the model reads only the first (read_items)
    assert got[("memory", "trained", "evidence_kept")] == (3, 0.0)  # the digits kept, not whole evidence
    assert got[("memory", "trained", "answer_kept")] == (3, 1.0)
    assert got[("memory", "identity", "evidence_kept")] == (3, 1.0)
    assert got[("memory", "trained", "a")] == (1, 1.0)
    # each kind on its own, with the items of that kind only
    assert got[("memory.single-hop", "tail", "answer_kept")] == (2, 0.0)
    assert got[("memory.temporal", "tail", "answer_kept")] == (1, 1.0)
    assert ("memory.single-hop", "trained", "a") not in got  # none of that kind was read
    assert {c.metric for c in comparisons} == {
        "task:memory",
        "task:memory.single-hop",
        "task:memory.temporal",
    }


def test_an_items_domain_reaches_every_compressor_with_its_settings() -> None:
    code = "def add(a, b):\n    return a + b\n"
    items = [
        GoldItem("code_needle", "c1", code, "Which function adds two numbers?", ["add"], evidence=(code,), domain="code"),
        GoldItem("qa", "q1", "the year was 1969 indeed", "When?", ["1969"]),
    ]  # fmt: skip
    ev = OmegaConf.create({"task_rates": [0.5], "code_needle": {"max_tokens": 8}, "qa": {"max_tokens": 8}})
    methods = _methods()
    gold_tasks(CannedLLM(), ev, items, dict(methods), cast(TokenCounter, WordCounter()), ["a"], seed=0)
    for m in methods.values():
        by_text = {r.text: r.domain for r in m.requests}
        # the code task's settings (read by definitions), none for a task that names no domain
        assert by_text[code] is not None and by_text[code].name == "code"
        assert by_text["the year was 1969 indeed"] is None
