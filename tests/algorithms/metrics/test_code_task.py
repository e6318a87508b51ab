"""The code tasks: items built from real standard-library cases and from `evaluate.code` settings, the
checks that read no answer on hand-made compressed texts (a function kept whole or cut by one line, a
skeleton with `...`, an import dropped), and the grade by whole identifier."""

from __future__ import annotations

import ast
import re

import pytest
from omegaconf import OmegaConf

from compress.algorithms.data.code_tasks import CodeCase, code_hops, needle_functions
from compress.algorithms.metrics.code_task import (
    CODE_CHECKS,
    CODE_HOPS,
    CODE_NEEDLE,
    code_checks,
    code_items,
    def_line,
    grade_identifier,
    kept_whole,
    missing_imports,
    parses,
    used_globals,
)
from compress.algorithms.metrics.gold import GoldItem, GoldTask
from compress.algorithms.metrics.gold_runner import graders, read_count
from compress.algorithms.metrics.tasks import TASKS, task_requirements


@pytest.fixture(scope="module")
def needle() -> CodeCase:
    # a method: its evidence is indented
    return next(c for c in needle_functions(30, seed=0) if "." in c.name)


@pytest.fixture(scope="module")
def item(needle: CodeCase) -> GoldItem:
    return code_items("code_needle", [needle])[0]


def _drop_line(text: str, evidence: str) -> str:
    """The text with one body line of the evidence function removed (the last non-blank one)."""
    lines = evidence.splitlines()
    last = max(i for i, line in enumerate(lines) if line.strip())
    cut = "\n".join(lines[:last] + lines[last + 1 :])
    assert text.count(evidence) == 1
    return text.replace(evidence, cut)


def _skeleton(source: str, keep: str) -> str:
    """Every function but `keep` (a qualified name) cut to its `def` line and `...`, as a compressor
    that keeps the outline would write it."""
    tree = ast.parse(source)
    lines = source.splitlines()
    spans = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and prefix + node.name != keep:
                first = node.body[0].lineno
                spans.append((first - 1, node.end_lineno or first, node.body[0].col_offset))
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")

    walk(tree.body, "")
    for start, end, col in sorted(spans, reverse=True):
        lines[start:end] = [" " * col + "..."]
    return "\n".join(lines) + "\n"


def test_protocol_and_registry() -> None:
    tasks: list[GoldTask] = [CODE_NEEDLE, CODE_HOPS]
    assert [t.name for t in tasks] == ["code_needle", "code_qa"]
    assert TASKS["code_needle"] is CODE_NEEDLE and TASKS["code_qa"] is CODE_HOPS
    assert graders("code_qa", ["m"]) == ["m", *CODE_CHECKS]
    assert task_requirements(OmegaConf.create({"tasks": ["code_needle", "code_qa"]})) == []
    # the dev split holds fewer (caller, helper) pairs than 200: told before any stage runs
    dev = OmegaConf.create({"tasks": ["code_qa"], "code": {"split": "dev", "qa_items": 10_000}})
    (problem,) = task_requirements(dev)
    assert "evaluate.code.qa_items=10000" in problem and "dev split" in problem
    assert task_requirements(OmegaConf.create({"tasks": ["code_needle"], "code": {"split": "train"}}))


def test_items_from_config() -> None:
    ev = OmegaConf.create(
        {
            "code": {
                "needle_items": 3,
                "qa_items": 2,
                "seed": 1,
                "split": "dev",
                "max_tokens": 24,
                "read_items": 1,
            }
        }
    )
    needles, hops = CODE_NEEDLE.load(ev), CODE_HOPS.load(ev)
    assert len(needles) == 3 and len(hops) == 2
    assert [it.id for it in needles] == [c.id for c in needle_functions(3, seed=1, split="dev")]
    for it in needles + hops:
        assert it.answers and it.evidence and it.kind in ("function", "method") and it.question
        assert CODE_NEEDLE.checks(it, it.context) == dict.fromkeys(CODE_CHECKS, True)
    assert {it.task for it in needles} == {"code_needle"} and {it.task for it in hops} == {"code_qa"}
    assert all(it.answers[0] in it.evidence[1] for it in hops)
    # the runner reads max_tokens and read_items under the task's name: the default config points those
    # at `code` (code_needle: ${.code})
    conf = OmegaConf.load("conf/evaluate/default.yaml")
    assert conf.code_needle.read_items == conf.code.read_items == read_count("code_qa", conf, 10**6)
    assert "code_needle" not in conf.tasks and "code_qa" not in conf.tasks


def test_function_kept_whole_or_cut(item: GoldItem) -> None:
    (evidence,) = item.evidence
    assert evidence[0].isspace()  # a method, indented as in its class
    assert kept_whole(evidence, item.context)
    # trailing white space and blank lines do not count; a dropped body line, a dedent or the order do
    padded = "\n\n".join(line + "  " for line in evidence.splitlines())
    assert kept_whole(evidence, f"x = 1\n{padded}\ny = 2\n")
    cut = _drop_line(item.context, evidence)
    assert not kept_whole(evidence, cut)
    checks = code_checks(item, cut)
    assert not checks["function_kept"] and checks["def_kept"]
    dedented = "\n".join(line[4:] for line in evidence.splitlines())
    assert not kept_whole(evidence, dedented)
    lines = evidence.splitlines()
    assert not kept_whole(evidence, "\n".join(lines[1:] + lines[:1]))
    # the def line alone is not the function, but it is its def line
    assert def_line(evidence) in item.context and code_checks(item, def_line(evidence) + "\n")["def_kept"]
    assert not code_checks(item, "pass\n")["def_kept"]


def test_skeleton_with_ellipses_parses(item: GoldItem, needle: CodeCase) -> None:
    skeleton = _skeleton(item.context, needle.name)
    assert len(skeleton) < len(item.context) / 2
    checks = code_checks(item, skeleton)
    assert checks == dict.fromkeys(CODE_CHECKS, True)
    assert not parses(skeleton.replace("...", "...(", 1))
    assert not code_checks(item, item.context[: len(item.context) // 3] + "\n    def (:\n")["parses"]


def test_missing_import_detected(item: GoldItem) -> None:
    tree = ast.parse(item.context)
    imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    used = used_globals(item.context)
    # an import whose name the module reads: drop its line
    node = next(
        n
        for n in imports
        if n.lineno == n.end_lineno and any((a.asname or a.name).split(".")[0] in used for a in n.names)
    )
    names = {(a.asname or a.name).split(".")[0] for a in node.names}
    lines = item.context.splitlines()
    dropped = "\n".join([*lines[: node.lineno - 1], "pass", *lines[node.lineno :]]) + "\n"
    assert missing_imports(item.context, dropped) == names & used
    assert not code_checks(item, dropped)["imports_kept"]
    # still told in a text that does not parse
    broken = dropped + "\ndef (:\n"
    assert not parses(broken) and missing_imports(item.context, broken) >= names & used
    # a text that no longer reads the name needs no import of it
    only_imports = "\n".join(
        lines[n.lineno - 1] for n in imports if n is not node and n.lineno == n.end_lineno
    )
    assert missing_imports(item.context, only_imports + "\n") == set()


def test_scope_aware_uses() -> None:
    original = (
        "import os\nfrom os import path\n\ndef f(path):\n    return path\n\ndef g():\n    return os.sep\n"
    )
    # `path` in f is its parameter, not the import: keeping f alone needs no import
    assert missing_imports(original, "def f(path):\n    return path\n") == set()
    assert missing_imports(original, "def g():\n    return os.sep\n") == {"os"}
    assert missing_imports(original, "import os\ndef g():\n    return os.sep\n") == set()
    # a string or a comment naming it is no use of it, even in a text that does not parse
    assert missing_imports(original, "x = 'os'  # os\ndef (:\n") == set()
    # nor is an attribute of the same name
    assert missing_imports(original, "y = sys.path\ndef (:\n") == set()
    assert missing_imports(original, "y = path\ndef (:\n") == {"path"}


def test_hops_items() -> None:
    cases = code_hops(5, seed=0)
    for it in code_items("code_qa", cases):
        caller, helper = it.evidence
        assert code_checks(it, it.context) == dict.fromkeys(CODE_CHECKS, True)
        # both functions must stand whole: the caller alone is not enough
        without_helper = it.context.replace(helper, "")
        assert not code_checks(it, without_helper)["function_kept"]
        assert code_checks(it, f"{caller}\n\n{helper}\n")["function_kept"]
        assert re.search(rf"raise {re.escape(it.answers[0])}\b", helper)


def test_grade_by_whole_identifier() -> None:
    it = GoldItem("code_needle", "x", "", "q", ["_parse"])
    assert grade_identifier(it, "The function is `_parse`.")
    assert grade_identifier(it, "Parser._parse")
    assert not grade_identifier(it, "parse_args")
    assert not grade_identifier(it, "_parse_args")
    assert CODE_HOPS.grade(GoldItem("code_qa", "y", "", "q", ["ValueError"]), "valueerror", "", None)
    assert not CODE_HOPS.grade(GoldItem("code_qa", "y", "", "q", ["Error"]), "ValueError", "", None)
