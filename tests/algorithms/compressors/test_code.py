"""Structure-aware code compression (`compress.algorithms.compressors.code`) on hand-made modules and
real standard-library ones: definitions found with their headers and docstrings, skeletons that parse
and keep every signature they name, the function a question describes kept whole, call-graph expansion
bringing the helper a kept function calls, the imports what is kept uses, indentation blocks for a
language with no parser here, and the budget kept by an exact count."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from compress.algorithms.compressors.base import Request
from compress.algorithms.compressors.baselines import BM25, BaselineContext, make_baseline
from compress.algorithms.compressors.code import Plan, code_map, compress_code, identifier_words
from compress.algorithms.data.domains import default_domains
from compress.algorithms.metrics.code_task import kept_whole, missing_imports
from compress.infra.llm.tokens import TokenCounter
from tests.conftest import CACHE

COUNTER = TokenCounter("local/gemma3-270m", CACHE)
CODE = default_domains()["code"]

MODULE = '''"""Orders and invoices."""

import json
import os
from decimal import Decimal

TAX = Decimal("0.2")


class InvalidOrder(Exception):
    """An order that cannot be invoiced."""


def _check_lines(lines):
    """Refuse an order with no lines or a negative quantity."""
    if not lines:
        raise InvalidOrder("an order needs at least one line")
    for line in lines:
        if line["qty"] < 0:
            raise InvalidOrder("negative quantity")
    return lines


def invoice_total(order):
    """Sum the order's lines and add the tax."""
    lines = _check_lines(order["lines"])
    net = sum(Decimal(str(x["price"])) * x["qty"] for x in lines)
    return net * (1 + TAX)


def save_invoice(order, folder):
    """Write the invoice as JSON next to the others."""
    path = os.path.join(folder, f"{order['id']}.json")
    with open(path, "w") as f:
        json.dump({"id": order["id"], "total": str(invoice_total(order))}, f)
    return path


class Ledger:
    """Every invoice of a shop, by id."""

    def __init__(self):
        self.entries = {}

    def record(self, order):
        """Keep the order's total under its id."""
        self.entries[order["id"]] = self._total(order)

    def _total(self, order):
        return invoice_total(order)

    def largest(self):
        """The id of the invoice with the largest total."""
        return max(self.entries, key=self.entries.get)
'''


def filler(n: int) -> str:
    """`n` unrelated functions, to make a module worth compressing."""
    return "\n\n".join(
        f'def unrelated_helper_{i}(value, scale={i}):\n    """Scale the value by {i} and clamp it."""\n'
        f"    scaled = value * scale + {i}\n    if scaled > {100 * i}:\n        scaled = {100 * i}\n"
        f"    return round(scaled, 2)"
        for i in range(n)
    )


BIG = MODULE + "\n\n" + filler(40) + "\n"


def test_identifier_words_split_snake_and_camel_case() -> None:
    assert identifier_words("read_file_v2") == ["read", "file", "v", "2"] or identifier_words(
        "read_file_v2"
    ) == ["read", "file", "v2"]
    assert identifier_words("HTTPServerError") == ["http", "server", "error"]
    assert identifier_words("_total") == ["total"]


def test_definitions_headers_docstrings_and_calls() -> None:
    m = code_map(MODULE)
    assert m is not None and m.python
    names = [d.qualname for d in m.defs]
    assert names == [
        "InvalidOrder",
        "_check_lines",
        "invoice_total",
        "save_invoice",
        "Ledger",
        "Ledger.__init__",
        "Ledger.record",
        "Ledger._total",
        "Ledger.largest",
    ]
    total = m.defs[names.index("invoice_total")]
    assert m.lines[total.first] == "def invoice_total(order):" and total.header_last == total.first
    assert total.summary == "Sum the order's lines and add the tax."
    assert "_check_lines" in total.calls
    assert m.defs[names.index("Ledger.record")].calls == {"._total"}
    assert {s.kind for s in m.stmts} == {"docstring", "import", "other"}


def _compress(text: str, scores: np.ndarray, budget: int, plan: Plan | None = None) -> str:
    m = code_map(text)
    assert m is not None
    out = compress_code(m, scores, budget, COUNTER.count, COUNTER.token_starts(text), None, plan)
    assert out is not None
    return out


def test_a_skeleton_parses_and_keeps_every_signature_it_names() -> None:
    m = code_map(BIG)
    assert m is not None
    n = COUNTER.count(BIG)
    # no question: a skeleton in text order, then whole definitions with what is left
    out = _compress(BIG, np.zeros(len(m.defs)), n // 5)
    tree = ast.parse(out)
    assert COUNTER.count(out) <= n // 5
    kept_defs = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    assert {"invoice_total", "Ledger", "record", "largest"} <= kept_defs
    for d in m.defs:
        if d.name in kept_defs and d.parent is None:
            # a signature named is the original's, line for line
            assert "\n".join(m.lines[d.first : d.header_last + 1]) in out
    assert "    ..." in out  # dropped bodies are `...`
    assert '"""Scale the value by 3 and clamp it."""' in out  # a one-line docstring as the summary


def test_the_described_function_is_kept_whole_with_its_helper_and_imports() -> None:
    hybrid = make_baseline("hybrid", BaselineContext(CACHE))
    n = COUNTER.count(BIG)
    q = "Which function adds up the price of every line times its quantity and applies the tax?"
    (out,) = hybrid.compress_many([Request(BIG, n // 4, CODE, q, tokens=n)], COUNTER)
    ast.parse(out.text)
    assert COUNTER.count(out.text) <= n // 4
    total = MODULE[MODULE.index("def invoice_total") : MODULE.index("\n\n\ndef save_invoice")]
    helper = MODULE[MODULE.index("def _check_lines") : MODULE.index("\n\n\ndef invoice_total")]
    assert kept_whole(total, out.text)
    # call-graph expansion: the helper it calls comes whole, and the constant it reads
    assert kept_whole(helper, out.text)
    assert 'TAX = Decimal("0.2")' in out.text
    assert "from decimal import Decimal" in out.text
    assert not missing_imports(BIG, out.text)
    # an import nothing kept uses stays out
    if 'save_invoice(order, folder):\n    """Write' not in out.text:
        assert "import json" not in out.text


def test_call_graph_expansion_brings_a_method_called_through_self() -> None:
    m = code_map(BIG)
    assert m is not None
    scores = np.zeros(len(m.defs))
    scores[[d.qualname for d in m.defs].index("Ledger.record")] = 5.0
    n = COUNTER.count(BIG)
    out = _compress(BIG, scores, n // 4)
    method = MODULE[MODULE.index("    def _total") : MODULE.index("\n\n    def largest")]
    assert kept_whole(method, out)
    without = _compress(BIG, scores, n // 4, Plan(callees=False))
    record = MODULE[MODULE.index("    def record") : MODULE.index("\n\n    def _total")]
    assert kept_whole(record, without)


def test_a_function_larger_than_the_budget_keeps_its_header_and_best_blocks() -> None:
    body = "\n".join(f"    step_{i} = compute_step({i})" for i in range(120))
    text = f'def long_pipeline(data):\n    """Run every step."""\n{body}\n    return finalize(data)\n\n\n{filler(3)}\n'
    m = code_map(text)
    assert m is not None
    scores = np.zeros(len(m.defs))
    scores[0] = 3.0
    out = _compress(text, scores, 200)
    ast.parse(out)
    assert out.startswith("def long_pipeline(data):")
    assert "    ..." in out and "return finalize(data)" in out
    assert COUNTER.count(out) <= 200


def test_other_languages_by_indentation_blocks() -> None:
    js = "\n".join(
        [
            "import { readFile } from 'fs';",
            "",
            *(
                line
                for i in range(30)
                for line in (
                    f"function helper{i}(x) {{",
                    f"  const y = x * {i};",
                    f"  return y + {i};",
                    "}",
                    "",
                )
            ),
            "function parseConfig(path) {",
            "  const raw = readFile(path, 'utf8');",
            "  const config = JSON.parse(raw);",
            "  if (!config.port) {",
            "    throw new Error('missing port');",
            "  }",
            "  return config;",
            "}",
        ]
    )
    m = code_map(js)
    assert m is not None and not m.python
    assert "parseConfig" in [d.name for d in m.defs]
    bm25 = BM25(BaselineContext(CACHE))
    n = COUNTER.count(js)
    (out,) = bm25.compress_many(
        [Request(js, n // 4, CODE, "Which function parses the config file and checks the port?", tokens=n)],
        COUNTER,
    )
    assert COUNTER.count(out.text) <= n // 4
    target = js[js.index("function parseConfig") :]
    assert target in out.text
    # every other line is the original's, or the mark of a dropped body (a block as its first line,
    # `…` and its closing brace)
    original = set(js.split("\n"))
    assert all(line in original or line.strip() == "…" for line in out.text.split("\n"))


@pytest.mark.parametrize("name", ["contextlib.py", "textwrap.py", "shlex.py"])
def test_real_modules_parse_at_every_budget(name: str) -> None:
    text = (Path(sysconfig.get_paths()["stdlib"]) / name).read_text()
    m = code_map(text)
    assert m is not None
    n = COUNTER.count(text)
    rng = np.random.default_rng(0)
    for rate in (0.5, 0.25, 0.1, 0.03):
        out = _compress(text, rng.normal(size=len(m.defs)), max(1, int(rate * n)))
        ast.parse(out)
        assert COUNTER.count(out) <= max(1, int(rate * n))


def test_bm25_structure_off_is_statement_selection() -> None:
    n = COUNTER.count(BIG)
    q = "Which function writes the invoice as JSON?"
    req = Request(BIG, n // 4, CODE, q, tokens=n)
    (by_defs,) = BM25(BaselineContext(CACHE)).compress_many([req], COUNTER)
    (by_stmts,) = BM25(BaselineContext(CACHE), structure=False).compress_many([req], COUNTER)
    save = MODULE[MODULE.index("def save_invoice") : MODULE.index("\n\n\nclass Ledger")]
    assert kept_whole(save, by_defs.text)
    assert by_defs.text != by_stmts.text
