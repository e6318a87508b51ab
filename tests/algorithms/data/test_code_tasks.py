"""Code cases over this machine's standard library: the needle's description gone from the context and the
rest of the module byte for byte, the answer defined once; the hops' exception raised by the helper only
and never named by the caller; dev and test splits share no module; the draw seeded and balanced."""

from __future__ import annotations

import ast
import re
import sysconfig
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from compress.algorithms.data.code_tasks import (
    CodeCase,
    code_hops,
    module_split,
    modules,
    needle_functions,
)

ROOT = Path(sysconfig.get_paths()["stdlib"])


def _word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def _flat(text: str) -> str:
    # the question quotes the description, its own double quotes made single
    return " ".join(text.split()).lower().replace('"', "'")


def _description(case: CodeCase) -> str:
    return case.question.split('"')[1]


@pytest.fixture(scope="module")
def needles() -> list[CodeCase]:
    return needle_functions(40, seed=0)


@pytest.fixture(scope="module")
def hops() -> list[CodeCase]:
    return code_hops(40, seed=0)


def test_needle_description_absent_and_answer_defined_once(needles: list[CodeCase]) -> None:
    assert len(needles) == 40 and len({c.id for c in needles}) == 40
    for c in needles:
        assert c.kind == "needle-function" and len(_description(c).split()) >= 6
        assert _flat(_description(c)) not in _flat(c.context)
        defs = [
            n
            for n in ast.walk(ast.parse(c.context))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == c.answer
        ]
        assert len(defs) == 1 and c.name.split(".")[-1] == c.answer
        assert c.answer not in c.question


def test_needle_removes_only_the_docstring(needles: list[CodeCase]) -> None:
    for c in needles:
        original = (ROOT / c.module).read_text(encoding="utf-8")
        ast.parse(c.context)
        # the context is the module with one stretch of whole lines cut out, and that stretch is a string
        # literal holding the description: everything else is byte for byte the module's
        a, b = original.splitlines(keepends=True), c.context.splitlines(keepends=True)
        head = next(i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y)
        cut = len(a) - len(b)
        assert cut > 0 and a[:head] == b[:head] and a[head + cut :] == b[head:]
        removed = "".join(a[head : head + cut])
        assert isinstance(ast.literal_eval(removed.strip()), str)
        assert _flat(_description(c)) in _flat(ast.literal_eval(removed.strip()))


def test_needle_evidence_is_the_function_as_it_stands(needles: list[CodeCase]) -> None:
    for c in needles:
        (text,) = c.evidence
        assert text in c.context and c.def_line in [line.strip() for line in text.splitlines()]
        (node,) = ast.parse(textwrap.dedent(text)).body
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == c.answer
        assert ast.get_docstring(node) is None
        assert len(text) <= 0.2 * len(c.context)
        # a method keeps its indentation
        assert text[0].isspace() == ("." in c.name)
        assert 10_000 <= len((ROOT / c.module).read_text(encoding="utf-8")) <= 45_000


def test_hops_exception_raised_by_the_helper_never_named_by_the_caller(hops: list[CodeCase]) -> None:
    assert len(hops) == 40
    for c in hops:
        caller, helper = c.evidence
        assert c.kind == "qa-hops" and caller in c.context and helper in c.context
        assert (ROOT / c.module).read_text(encoding="utf-8") == c.context  # the module unchanged
        assert not _word(c.answer).search(caller) and not _word(c.answer).search(c.question)
        assert re.search(rf"raise {re.escape(c.answer)}\b", helper)
        g = ast.parse(textwrap.dedent(helper)).body[0]
        assert isinstance(g, ast.FunctionDef | ast.AsyncFunctionDef)
        assert re.search(rf"(self\.)?\b{g.name}\(", caller)  # F calls G by name
        assert c.name in c.question and c.def_line in [line.strip() for line in caller.splitlines()]


def test_strict_hops_raise_the_answer_once() -> None:
    cases = code_hops(200, seed=0)
    strict = [c for c in cases if c.strict]
    assert len(strict) >= 10
    for c in strict:
        assert len(re.findall(rf"raise {re.escape(c.answer)}\b", c.context)) == 1
        assert len(_word(c.answer).findall(c.context)) == len(_word(c.answer).findall(c.evidence[1]))


def test_splits_share_no_module() -> None:
    every = (0, 10**9)  # every size
    dev, test = set(modules("dev", *every)), set(modules("test", *every))
    assert dev and test and not dev & test and dev | test == set(modules("all", *every))
    assert 0.2 < len(dev) / (len(dev) + len(test)) < 0.4
    for c in needle_functions(20, seed=1, split="dev") + code_hops(20, seed=1, split="dev"):
        assert module_split(c.module) == "dev" and c.module in dev
    assert not any(m.startswith(("test/", "idlelib/idle_test", "lib2to3")) for m in dev | test)


def test_seeded_and_balanced() -> None:
    a, b = needle_functions(200, seed=0), needle_functions(200, seed=0)
    assert [c.id for c in a] == [c.id for c in b] and a[0] == b[0]
    assert [c.id for c in needle_functions(200, seed=1)] != [c.id for c in a]
    assert max(Counter(c.module for c in a).values()) <= 3
    assert len(code_hops(200, seed=0)) == 200
    assert max(Counter(c.module for c in code_hops(100, seed=0)).values()) <= 3


def test_too_many_asked() -> None:
    with pytest.raises(ValueError, match="only"):
        code_hops(10_000, seed=0, split="dev")
    with pytest.raises(ValueError, match="split"):
        needle_functions(1, seed=0, split="train")
