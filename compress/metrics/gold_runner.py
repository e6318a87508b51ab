"""The gold-answer tasks run: each item's context shortened by each method, asked of every answering
model (each distinct prompt once), graded, and summed up per task, method and model with a Wilson
interval and the paired change against the original context (`compress.metrics.gold`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from rich.progress import track

from compress.errors import CompressError
from compress.llm.client import ChatRequest, ChatResult
from compress.metrics import gold
from compress.metrics.stats import paired_bootstrap, wilson
from compress.metrics.summary import Outputs
from compress.schemas import TaskResult


class Answers(Protocol):
    """What the runner needs of an LLM session (`compress.llm.client.LLMSession` is one)."""

    def run_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        """One result per request."""
        ...


class CountsAndCuts(Protocol):
    """What the runner needs of a token counter (`compress.llm.tokens.TokenCounter` is one)."""

    def count(self, text: str) -> int:
        """The text's tokens."""
        ...

    def truncate(self, text: str, n_tokens: int) -> str:
        """The longest prefix of the text within `n_tokens`."""
        ...


def gold_tasks(
    llm: Answers,
    ev: Any,
    items: list[gold.GoldItem],
    trained: Outputs,
    counter: CountsAndCuts,
    models: list[str],
    seed: int,
) -> list[TaskResult]:
    """Accuracy per task × method × answering model, against the original context (`ev`: the
    `evaluate` settings; `trained`: the trained compressor's output on each item's context)."""
    contexts: dict[str, list[str]] = {"identity": [it.context for it in items]}
    budgets = [counter.count(t) for t, _ in trained]
    for method in ev.task_methods:
        if method == "trained":
            contexts["trained"] = [t for t, _ in trained]
        elif method == "truncate":
            contexts["truncate"] = [
                counter.truncate(it.context, n) for it, n in zip(items, budgets, strict=True)
            ]
        elif method != "identity":
            raise CompressError(
                f"evaluate.task_methods: {method!r} is not one of identity, trained, truncate."
            )
    reqs: dict[tuple[str, str, str, str], ChatRequest] = {}
    for method, ctxs in contexts.items():
        for it, c in zip(items, ctxs, strict=True):
            for m in models:
                max_tok = int(ev[it.task].max_tokens)
                reqs[(method, it.task, it.id, m)] = gold.request(gold.task(it.task), it, c, m, max_tok)
    answers = {
        r.key: r.text
        for r in llm.run_many(list({r.key: r for r in reqs.values()}.values()), label="gold tasks")
    }
    correct: dict[tuple[str, str, str], list[bool]] = {}
    for method, ctxs in contexts.items():
        for it, c in track(
            list(zip(items, ctxs, strict=True)), description=f"grading {method}", transient=True
        ):
            for m in models:
                ok = gold.task(it.task).grade(it, answers[reqs[(method, it.task, it.id, m)].key], c, ev)
                correct.setdefault((method, it.task, m), []).append(ok)
    results = []
    for (method, task, m), oks in correct.items():
        base = correct[("identity", task, m)]
        lo, hi = wilson(sum(oks), len(oks))
        dlo, dhi = paired_bootstrap(base, oks, seed=seed)
        task_items = [i for i, it in enumerate(items) if it.task == task]
        n_orig = sum(counter.count(items[i].context) for i in task_items)
        n_comp = sum(counter.count(contexts[method][i]) for i in task_items)
        results.append(
            TaskResult(
                task=task,
                method=method,
                model=m,
                n=len(oks),
                accuracy=float(np.mean(oks)),
                ci_low=lo,
                ci_high=hi,
                delta=float(np.mean(oks) - np.mean(base)),
                delta_ci_low=dlo,
                delta_ci_high=dhi,
                token_reduction=1 - n_comp / max(1, n_orig),
            )
        )
    return results
