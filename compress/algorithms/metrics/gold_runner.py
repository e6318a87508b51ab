"""The gold-answer tasks run: each item's context shortened by every method at every budget, asked of
every answering model (each distinct prompt once), graded, and summed up per task, budget, method and
model with a Wilson interval and the paired change against the original context; then the trained
compressor against every baseline on the same questions (`compress.algorithms.metrics.compare`).

Budgets: at each of `evaluate.task_rates`, every method gets `tokens_at(rate, n)` of a context of n
target tokens. A trained compressor that writes its own length (the generative kind) is not held to a
rate: it runs once at its own budget (rate None), and the baselines are matched to what it wrote, item
by item. The question is every method's `Request.query`; a query-agnostic method ignores it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from omegaconf import OmegaConf

from compress.algorithms.compressors.base import Compressor, Request, tokens_at
from compress.algorithms.data.domains import default_domains
from compress.algorithms.metrics import gold, needle
from compress.algorithms.metrics.compare import compare
from compress.algorithms.metrics.stats import paired_bootstrap, wilson
from compress.algorithms.metrics.tasks import named_task
from compress.infra.console import tracked
from compress.infra.errors import CompressError
from compress.infra.llm.client import ChatRequest, ChatResult
from compress.infra.llm.tokens import TokenCounter
from compress.infra.schemas import Comparison, TaskResult

TaskPoint = tuple[str, float | None]  # (method, rate): rate None = at the trained compressor's own budget
# what a needle item is asked and graded by; the other tasks are `tasks.TASKS`
SAMPLE_ASKED: dict[str, gold.Asked] = {"needle": needle.NEEDLE}
# compressed at once: a batch-friendly compressor batches, and the progress bar still moves
CHUNK = 16
# the grader that reads no answer: whether the compressed context still holds the answer string
KEPT = "answer_kept"


class Answers(Protocol):
    """What the runner needs of an LLM session (`compress.infra.llm.client.LLMSession` is one)."""

    def run_many(self, requests: Sequence[ChatRequest], label: str = "LLM calls") -> list[ChatResult]:
        """One result per request."""
        ...


def task_baselines(ev: Any) -> list[str]:
    """The baselines every gold task runs beside the trained compressor: `evaluate.task_baselines`,
    else `evaluate.baselines`; identity (the original context) always, first."""
    names = OmegaConf.select(ev, "task_baselines", default=None)
    if names is None:
        names = OmegaConf.select(ev, "baselines", default=None) or []
    return list(dict.fromkeys(["identity", *map(str, names)]))


def runner_tasks(tasks: list[str]) -> list[str]:
    """The configured tasks this runner reports (every one but cloze, which each method's summary holds)."""
    return [t for t in tasks if t != "cloze"]


def asked(task: str) -> gold.Asked:
    """How the items of `task` are asked and graded."""
    return SAMPLE_ASKED[task] if task in SAMPLE_ASKED else named_task(task)


def task_points(baselines: list[str], rates: list[float], rate_controlled: bool) -> list[TaskPoint]:
    """Which method runs at which budget: a rate-controlled trained compressor and every baseline at
    each rate; one that writes its own length at its own budget (None), the baselines matched to it
    there and at each rate."""
    at_rates = (["trained"] if rate_controlled else []) + baselines
    own = [] if rate_controlled else [("trained", None), *((b, None) for b in baselines)]
    return own + [(m, r) for r in rates for m in at_rates]


def task_pairs(points: list[TaskPoint]) -> list[tuple[TaskPoint, TaskPoint]]:
    """At each budget the trained compressor runs at: trained against every baseline there."""
    return [
        (("trained", rate), (m, r))
        for rate in dict.fromkeys(r for m, r in points if m == "trained")
        for m, r in points
        if r == rate and m != "trained"
    ]


def _compress(
    compressor: Compressor, requests: list[Request], counter: TokenCounter, label: str
) -> list[str]:
    chunks = [requests[i : i + CHUNK] for i in range(0, len(requests), CHUNK)]
    return [
        c.text
        for chunk in tracked(chunks, label, unit=f"batches of {CHUNK}")
        for c in compressor.compress_many(chunk, counter)
    ]


def _contexts(
    items: list[gold.GoldItem],
    methods: dict[str, Compressor],
    rates: list[float],
    counter: TokenCounter,
    own_budget: Callable[[int], int] | None,
) -> dict[TaskPoint, list[str]]:
    """Every method's context for every item at every budget it runs at."""
    counter.prefetch(it.context for it in items)
    n_tok = [counter.count(it.context) for it in items]
    baselines = [m for m in methods if m != "trained"]
    out: dict[TaskPoint, list[str]] = {}

    settings = default_domains()
    domains = [settings[it.domain] if it.domain else None for it in items]

    def run(method: str, rate: float | None, budgets: list[int]) -> None:
        reqs = [
            Request(it.context, n, d, it.question or None, tokens=k)
            for it, n, k, d in zip(items, budgets, n_tok, domains, strict=True)
        ]
        at = "its own budget" if rate is None else f"rate {rate:g}"
        out[(method, rate)] = _compress(methods[method], reqs, counter, f"gold tasks: {method} at {at}")
        counter.prefetch(out[(method, rate)])

    for method, rate in task_points(baselines, rates, own_budget is None):
        if rate is not None:
            run(method, rate, [tokens_at(rate, n) for n in n_tok])
        elif method == "trained" and own_budget is not None:
            run(method, None, [own_budget(n) for n in n_tok])
        else:  # matched to what the trained compressor wrote
            run(method, None, [counter.count(t) for t in out[("trained", None)]])
    return out


def graders(task: str, models: list[str]) -> list[str]:
    """Who grades a task's items: the answering models, and the task's checks that read no answer
    (`check_names`: the needle's `KEPT`, whether the answer still stands in the context; memory's and
    tracing's `evidence_kept` too). A task group `task.kind` is graded as its task."""
    return [*models, *getattr(asked(task.split(".")[0]), "check_names", ())]


def groups(items: list[gold.GoldItem]) -> dict[str, list[int]]:
    """The items' indices per task, then per `task.kind` for a task whose items have kinds (memory's
    multi-hop questions, tracing's hops): every figure is reported for each group."""
    out: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        out.setdefault(it.task, []).append(i)
    for i, it in enumerate(items):
        if it.kind:
            out.setdefault(f"{it.task}.{it.kind}", []).append(i)
    return out


def read_count(task: str, ev: Any, n: int) -> int:
    """How many of a task's `n` items the models read (`evaluate.<task>.read_items`; null: all)."""
    limit = OmegaConf.select(ev, f"{task}.read_items", default=None)
    return n if limit is None else min(n, int(limit))


def gold_tasks(
    llm: Answers,
    ev: Any,
    items: list[gold.GoldItem],
    methods: dict[str, Compressor],
    counter: TokenCounter,
    models: list[str],
    seed: int,
    own_budget: Callable[[int], int] | None = None,
) -> tuple[list[TaskResult], list[Comparison]]:
    """Accuracy per task × budget × method × grader, against the original context, and the trained
    compressor against every baseline at each budget.

    Graders: every answering model, on the first `evaluate.<task>.read_items` items of the task (null:
    all of them; reading is what costs), and for a task whose answer is a string of its context (the
    needle) `KEPT` on every item: whether the compressed context still holds the answer, no model.

    `ev`: the `evaluate` settings (`task_rates`; `<task>.max_tokens`); `methods`: "trained" and the
    baselines, identity among them (the original context every change is measured from);
    `own_budget`: the trained compressor's budget for a context of n tokens when it writes its own
    length (it then runs at that budget only), None when it meets any rate."""
    if "identity" not in methods:
        raise CompressError("gold tasks: the methods must include identity, the original context.")
    rates = [float(r) for r in ev.task_rates]
    contexts = _contexts(items, methods, rates, counter, own_budget)
    tasks = list(dict.fromkeys(it.task for it in items))
    index = {t: [i for i, it in enumerate(items) if it.task == t] for t in tasks}
    read = {i for t in tasks for i in index[t][: read_count(t, ev, len(index[t]))]}
    members = groups(items)
    reqs: dict[tuple[TaskPoint, int, str], ChatRequest] = {}
    for point, ctxs in contexts.items():
        for i, (it, c) in enumerate(zip(items, ctxs, strict=True)):
            if i in read:
                for m in models:
                    reqs[(point, i, m)] = gold.request(asked(it.task), it, c, m, int(ev[it.task].max_tokens))
    unique = list({r.key: r for r in reqs.values()}.values())
    answers = {r.key: r.text for r in llm.run_many(unique, label="gold tasks")} if unique else {}
    grades: dict[tuple[str, str], bool] = {}
    # per task, point and grader: the graded items' indices and whether each was right
    correct: dict[tuple[str, TaskPoint, str], list[tuple[int, bool]]] = {}
    for point, ctxs in contexts.items():
        for i, (it, c) in enumerate(zip(items, ctxs, strict=True)):
            checks = getattr(asked(it.task), "check_names", ())
            checked = asked(it.task).checks(it, c) if checks else {}  # type: ignore[attr-defined]
            for m in graders(it.task, models):
                if m in checks:
                    ok = checked[m]
                elif i not in read:
                    continue
                else:
                    key = reqs[(point, i, m)].key
                    if (it.id, key) not in grades:  # the same prompt is graded once (humaneval runs code)
                        grades[(it.id, key)] = asked(it.task).grade(it, answers[key], c, ev)
                    ok = grades[(it.id, key)]
                correct.setdefault((it.task, point, m), []).append((i, ok))
    # a group `task.kind` holds its items' grades under the task
    for g, idx in members.items():
        if g not in tasks:
            mine = set(idx)
            for (t, point, m), marks in list(correct.items()):
                if t == g.split(".")[0]:
                    correct[(g, point, m)] = [(i, ok) for i, ok in marks if i in mine]
    results = []
    for task in members:
        for point, ctxs in contexts.items():
            for m in graders(task, models):
                if not correct.get((task, point, m)):
                    continue  # a kind none of whose items a model read
                idx = [i for i, _ in correct[(task, point, m)]]
                oks = [ok for _, ok in correct[(task, point, m)]]
                base = [ok for _, ok in correct[(task, ("identity", point[1]), m)]]
                n_orig = sum(counter.count(items[i].context) for i in idx)
                n_comp = sum(counter.count(ctxs[i]) for i in idx)
                lo, hi = wilson(sum(oks), len(oks))
                dlo, dhi = paired_bootstrap(base, oks, seed=seed)
                results.append(
                    TaskResult(
                        task=task,
                        method=point[0],
                        model=m,
                        n=len(oks),
                        accuracy=float(np.mean(oks)),
                        ci_low=lo,
                        ci_high=hi,
                        delta=float(np.mean(oks) - np.mean(base)),
                        delta_ci_low=dlo,
                        delta_ci_high=dhi,
                        token_reduction=1 - n_comp / max(1, n_orig),
                        rate=point[1],
                        by_position=needle.by_position([items[i] for i in idx], oks),
                    )
                )

    def graded(t: str, p: TaskPoint, m: str) -> list[float]:
        return [float(ok) for _, ok in correct[(t, p, m)]]

    rows = [
        compare(a[0], b[0], graded(t, a, m), graded(t, b, m), f"task:{t}", m, a[1], seed)
        for t in members
        for a, b in task_pairs(list(contexts))
        for m in graders(t, models)
        if correct.get((t, a, m))
    ]
    return results, rows
