"""The memory and tracing tasks: items built from histories and cases, kept checks, settings read from
`evaluate`, a user's file read (and its errors reported as requirements)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

from compress.algorithms.data.memory import generate, render, write_histories
from compress.algorithms.data.tracing import generate_tracing
from compress.algorithms.metrics.gold import GoldTask
from compress.algorithms.metrics.memory_task import (
    MEMORY,
    TRACING,
    MemoryTask,
    TracingTask,
    kept_checks,
    memory_items,
    tracing_items,
)

EV = {
    "memory": {
        "histories": 1,
        "questions_per_kind": 2,
        "seed": 0,
        "path": None,
        "max_items": None,
        "max_tokens": 32,
    },
    "tracing": {"items": 6, "haystack_tokens": 800, "seed": 0, "max_tokens": 32},
}


def test_protocol() -> None:
    tasks: list[GoldTask] = [MemoryTask(), TracingTask()]
    assert [t.name for t in tasks] == ["memory", "tracing"]


def test_memory_items() -> None:
    (h,) = generate(1, seed=1, questions_per_kind=2)
    items = memory_items([h])
    assert len(items) == len(h.questions) == 10
    text, spans = render(h)
    for it, q in zip(items, h.questions, strict=True):
        assert it.task == "memory" and it.context == text and it.answers == [q.answer] and it.kind == q.kind
        assert it.evidence == tuple(text[slice(*spans[e])] for e in q.evidence)
        assert kept_checks(it, it.context) == {"evidence_kept": True, "answer_kept": True}


def test_kept_checks_on_a_cut_context() -> None:
    (c,) = tracing_items(generate_tracing(2, seed=0, haystack_tokens=600, hops=(2,)))[:1]
    assert TRACING.checks(c, c.context) == {"evidence_kept": True, "answer_kept": True}
    # white space does not matter; dropping the answer's statement does
    assert kept_checks(c, " \n ".join(c.context.split())) == {"evidence_kept": True, "answer_kept": True}
    cut = c.context.replace(c.evidence[-1], c.evidence[-1][:10])
    assert kept_checks(c, cut) == {"evidence_kept": False, "answer_kept": False}
    assert c.kind == "2-hop" and c.task == "tracing"


def test_load_from_settings() -> None:
    ev = OmegaConf.create(EV)
    assert MEMORY.requirements(ev) == [] and TRACING.requirements(ev) == []
    assert len(MEMORY.load(ev)) == 10
    ev.memory.max_items = 3
    assert len(MEMORY.load(ev)) == 3
    items = TRACING.load(ev)
    assert len(items) == 6 and {it.kind for it in items} == {"1-hop", "2-hop", "3-hop"}


def test_user_file_and_its_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    write_histories(generate(1, seed=2, questions_per_kind=1), path)
    ev = OmegaConf.create(EV)
    ev.memory.path = str(path)
    assert MEMORY.requirements(ev) == []
    assert len(MEMORY.load(ev)) == 5
    path.write_text("{broken")
    (problem,) = MEMORY.requirements(ev)
    assert problem.startswith("evaluate: memory.path=") and "not valid UTF-8 JSON" in problem


def test_grade_and_messages() -> None:
    (it,) = tracing_items(generate_tracing(1, seed=0, haystack_tokens=300))
    assert MEMORY.grade(it, f"It is {it.answers[0]}.", it.context, None)
    assert not TRACING.grade(it, "no idea", it.context, None)
    assert it.question in TRACING.messages(it, "ctx")[0]["content"]
    assert MEMORY.stop == () and TRACING.stop == ()
