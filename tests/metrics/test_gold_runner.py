"""The gold-task runner with canned answers: exact accuracies, changes against the original context,
token reductions, and each distinct prompt asked once."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from omegaconf import OmegaConf

from compress.llm.client import ChatRequest, ChatResult
from compress.metrics.gold import GoldItem
from compress.metrics.gold_runner import gold_tasks


class CannedLLM:
    """Model `a` answers with the first number in the context it is shown; any other model says "none"."""

    def __init__(self) -> None:
        self.asked: list[ChatRequest] = []

    def run_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        self.asked += requests
        out = []
        for r in requests:
            context = r.messages[0]["content"].split("\n\nQuestion:")[0]
            number = re.search(r"\d+", context)
            text = number.group(0) if number and r.model == "a" else "none"
            out.append(ChatResult(r.key, r.model, text, 0, 0, 1))
        return out


class WordCounter:
    """Tokens are white-space words."""

    def count(self, text: str) -> int:
        return len(text.split())

    def truncate(self, text: str, n_tokens: int) -> str:
        return " ".join(text.split()[:n_tokens])


ITEMS = [
    GoldItem("qa", "q1", "the year was 1969 indeed", "When?", ["1969"]),
    GoldItem("qa", "q2", "it cost 42 dollars", "How much?", ["42"]),
    GoldItem("qa", "q3", "nothing here but 7", "Which?", ["7"]),
    GoldItem("qa", "q4", "9 is the answer", "What?", ["9"]),
]
# the trained compressor keeps the answer of q2 and q3 only
TRAINED = [("the year was", 0.1), ("it cost 42", 0.1), ("but 7", 0.1), ("is the answer", 0.1)]


def test_accuracy_and_change_per_method_and_model() -> None:
    ev = OmegaConf.create({"task_methods": ["identity", "trained", "truncate"], "qa": {"max_tokens": 8}})
    llm = CannedLLM()
    results = gold_tasks(llm, ev, ITEMS, TRAINED, WordCounter(), ["a", "b"], seed=0)
    by = {(r.method, r.model): r for r in results}
    assert list(by) == [(m, mo) for m in ("identity", "trained", "truncate") for mo in ("a", "b")]
    assert by[("identity", "a")].accuracy == 1.0 and by[("identity", "a")].delta == 0.0
    # trained loses q1 and q4; truncate to the same 3, 3, 2, 3 words keeps q2 and q4
    assert by[("trained", "a")].accuracy == 0.5 and by[("truncate", "a")].accuracy == 0.5
    tr = by[("trained", "a")]
    assert tr.delta == -0.5 and (tr.delta_ci_low, tr.delta_ci_high) == (-1.0, 0.0)
    assert tr.n == 4 and tr.task == "qa"
    # 17 words down to 11
    assert tr.token_reduction == pytest.approx(6 / 17) == by[("truncate", "b")].token_reduction
    assert by[("identity", "b")].token_reduction == 0.0
    assert all(by[(m, "b")].accuracy == 0.0 and by[(m, "b")].delta == 0.0 for m in ("trained", "truncate"))
    # Wilson 95% for 2/4
    assert (round(tr.ci_low, 6), round(tr.ci_high, 6)) == (0.150036, 0.849964)
    # 3 methods x 4 items x 2 models, less q1's and q2's contexts that trained and truncate share
    assert len(llm.asked) == 20 and len({r.key for r in llm.asked}) == 20
