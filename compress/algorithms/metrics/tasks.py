"""The gold-answer tasks by the name `evaluate.tasks` gives them: the file tasks (`qa`, `humaneval`:
`compress.algorithms.metrics.gold`), the generated ones (`memory`, `tracing`:
`compress.algorithms.metrics.memory_task`; `code_needle`, `code_qa`:
`compress.algorithms.metrics.code_task`) and the names of those the evaluate stage builds from its own
held-out samples (`cloze`, `needle`). A new task is a class implementing `gold.GoldTask` and a line here.
"""

from __future__ import annotations

from typing import Any

from compress.algorithms.metrics.code_task import CODE_HOPS, CODE_NEEDLE
from compress.algorithms.metrics.gold import GoldTask, HumanEvalTask, QATask
from compress.algorithms.metrics.memory_task import MEMORY, TRACING
from compress.infra.errors import CompressError

TASKS: dict[str, GoldTask] = {
    "qa": QATask(),
    "humaneval": HumanEvalTask(),
    "memory": MEMORY,
    "tracing": TRACING,
    "code_needle": CODE_NEEDLE,
    "code_qa": CODE_HOPS,
}
# tasks the evaluate stage builds from its own held-out samples (compress.algorithms.metrics.cloze,
# compress.algorithms.metrics.needle): no file, no download
SAMPLE_TASKS = ("cloze", "needle")


def named_task(name: str) -> GoldTask:
    """A file task by name (a clear error naming the tasks there are)."""
    if name not in TASKS:
        raise CompressError(
            f"evaluate.tasks: unknown task {name!r}; choose from {sorted([*TASKS, *SAMPLE_TASKS])}."
        )
    return TASKS[name]


def task_requirements(ev: Any) -> list[str]:
    """What the configured gold tasks lack here (unknown names included)."""
    problems = []
    for name in ev.get("tasks") or []:
        if str(name) in SAMPLE_TASKS:
            continue
        if str(name) not in TASKS:
            problems.append(
                f"evaluate: evaluate.tasks: unknown task {name!r}; choose from {sorted([*TASKS, *SAMPLE_TASKS])}."
            )
        else:
            problems += TASKS[str(name)].requirements(ev)
    return problems
