"""The `code_needle` and `code_qa` gold-answer tasks: questions over real Python modules (no download).

`code_needle` is RepoQA's needle-function search (which function does what this sentence says?),
`code_qa` asks which exception a function raises through the helper it calls
(`compress.algorithms.data.code_tasks`: this machine's standard library, split by module into `dev` and
`test`). The validators answer them as plain QA, graded by the answer as a whole identifier in the reply.
`checks` tell, with no model, what a compressor did to the code: the evidence functions kept whole
(`function_kept`), the target's `def` line kept (`def_kept`), the result still Python (`parses`) and
every import it still relies on kept (`imports_kept`).
"""

from __future__ import annotations

import ast
import keyword
import re
import symtable
import tokenize
from functools import lru_cache
from typing import Any

from omegaconf import OmegaConf

from compress.algorithms.data.code_tasks import (
    KINDS,
    SPLITS,
    CodeCase,
    available,
    code_hops,
    needle_functions,
)
from compress.algorithms.metrics.gold import GoldItem, qa_messages

CODE_CHECKS = ("function_kept", "def_kept", "parses", "imports_kept")


def _setting(ev: Any, key: str, default: Any) -> Any:
    value = OmegaConf.select(ev, key, default=default) if OmegaConf.is_config(ev) else default
    return default if value is None else value


def code_items(task: str, cases: list[CodeCase]) -> list[GoldItem]:
    """One item per case: the module is the context, the function sources the evidence; the kind tells
    a method (`Class.method`) from a module-level function."""
    return [
        GoldItem(
            task,
            c.id,
            c.context,
            c.question,
            [c.answer],
            evidence=c.evidence,
            kind="method" if "." in c.name else "function",
            domain="code",
        )
        for c in cases
    ]


# --- checks that read no answer --------------------------------------------------------------------


def _code_lines(text: str) -> list[str]:
    """The text's non-blank lines without their trailing white space (indentation kept)."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def kept_whole(evidence: str, context: str) -> bool:
    """Whether every non-blank line of `evidence` stands in `context`, in order and as one block (blank
    lines and trailing white space aside; indentation must match)."""
    want, have = _code_lines(evidence), _code_lines(context)
    if not want:
        return True
    first = want[0]
    return any(have[i : i + len(want)] == want for i, line in enumerate(have) if line == first)


def def_line(evidence: str) -> str:
    """The `def` line of the first function in `evidence` (after its decorators), stripped."""
    for line in evidence.splitlines():
        s = line.strip()
        if s.startswith(("def ", "async def ")):
            return s
    return ""


def parses(text: str) -> bool:
    """Whether `text` is Python that parses."""
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _table_globals(table: symtable.SymbolTable) -> set[str]:
    """The names a scope and the scopes inside it read from the module's namespace."""
    out = set()
    module_level = table.get_type() == "module"
    for sym in table.get_symbols():
        if sym.is_referenced() and (module_level or sym.is_global()):
            out.add(sym.get_name())
    for child in table.get_children():
        out |= _table_globals(child)
    return out


def _token_names(text: str) -> set[str]:
    """The names a text that does not parse uses, by its tokens (attribute names after `.` and keywords
    left out); where tokenizing fails it resumes on the next line, and stops in an unclosed string."""
    lines = text.splitlines(keepends=True)
    names: set[str] = set()
    start = 0
    while start < len(lines):
        prev = ""
        try:
            for tok in tokenize.generate_tokens(iter(lines[start:]).__next__):
                if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string) and prev != ".":
                    names.add(tok.string)
                if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                    prev = tok.string
            break
        except (tokenize.TokenError, SyntaxError) as exc:
            if "string" in str(exc.args[0]):  # the rest of the text is inside a string
                break
            where = exc.lineno if isinstance(exc, SyntaxError) else exc.args[1][0]
            start += max(1, int(where or 1))
    return names


_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+)?import[ \t]+(?:\([^)]*\)|.*)", re.MULTILINE)


def _import_bindings(text: str) -> set[str]:
    """The names import statements bind at the top of a module (in a text that does not parse: every
    import statement that parses on its own)."""
    try:
        table = symtable.symtable(text, "<context>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        out = set()
        for m in _IMPORT.finditer(text):
            try:
                stmt = ast.parse(m.group(0).strip()).body
            except SyntaxError:
                continue
            for node in stmt:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    out |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
        return out
    return {s.get_name() for s in table.get_symbols() if s.is_imported()}


def used_globals(text: str) -> set[str]:
    """The module-level names a text reads (by scope: a function's own parameter or local is not the
    module's name); for a text that does not parse, every name it uses."""
    try:
        return _table_globals(symtable.symtable(text, "<context>", "exec"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _token_names(text)


@lru_cache(maxsize=256)
def _module_imports(original: str) -> frozenset[str]:
    return frozenset(_import_bindings(original))


def missing_imports(original: str, compressed: str) -> set[str]:
    """The names the compressed text reads that the original module binds by an import at its top level
    and the compressed text no longer imports."""
    needed = used_globals(compressed) & _module_imports(original)
    return needed - _import_bindings(compressed)


def code_checks(item: GoldItem, context: str) -> dict[str, bool]:
    """What the (compressed) context kept of the code, told with no model (see `CODE_CHECKS`)."""
    lines = {line.strip() for line in context.splitlines()}
    return {
        "function_kept": all(kept_whole(e, context) for e in item.evidence),
        "def_kept": bool(item.evidence) and def_line(item.evidence[0]) in lines,
        "parses": parses(context),
        "imports_kept": not missing_imports(item.context, context),
    }


# --- grading ---------------------------------------------------------------------------------------


def grade_identifier(item: GoldItem, answer: str) -> bool:
    """Right when an accepted answer stands in the reply as a whole identifier (any case): normalized
    containment, but `_parse` is not found inside `parse_args` (QA's normalization drops underscores)."""
    return any(
        a and re.search(rf"(?<![A-Za-z0-9_]){re.escape(a)}(?![A-Za-z0-9_])", answer, re.IGNORECASE)
        for a in item.answers
    )


class _CodeTask:
    name = ""
    stop: tuple[str, ...] = ()
    # graded with no model (`checks`), on every item
    check_names: tuple[str, ...] = CODE_CHECKS
    messages = staticmethod(qa_messages)

    # what the task's cases are: the kind `code_tasks.available` counts, and its setting for how many
    kind = ""
    items_key = ""

    def requirements(self, ev: Any) -> list[str]:
        """The split must hold as many cases as asked for (the modules are this machine's own standard
        library; counting them scans it once, which the load then reuses)."""
        n = int(_setting(ev, f"code.{self.items_key}", 200))
        split = str(_setting(ev, "code.split", "test"))
        if split not in SPLITS:
            return [f"evaluate: evaluate.code.split={split!r}: choose from {list(SPLITS)}."]
        have = available(self.kind, split)
        if n > have:
            return [
                f"evaluate: evaluate.code.{self.items_key}={n} but the {split} split of this machine's "
                f"standard library holds {have} {self.name} cases: ask for at most {have}."
            ]
        return []

    def grade(self, item: GoldItem, answer: str, context: str, ev: Any) -> bool:
        """The answer (a function's or an exception's name) stands in the reply as a whole identifier."""
        return grade_identifier(item, answer)

    def checks(self, item: GoldItem, context: str) -> dict[str, bool]:
        """Functions and `def` line kept, still parses, imports kept (see `code_checks`)."""
        return code_checks(item, context)


class CodeNeedleTask(_CodeTask):
    """RepoQA's needle function over standard-library modules (`evaluate.code`)."""

    name = "code_needle"
    kind = KINDS[0]
    items_key = "needle_items"

    def load(self, ev: Any) -> list[GoldItem]:
        """`code.needle_items` cases of split `code.split` drawn with `code.seed`."""
        cases = needle_functions(
            int(_setting(ev, "code.needle_items", 200)),
            int(_setting(ev, "code.seed", 0)),
            split=str(_setting(ev, "code.split", "test")),
        )
        return code_items(self.name, cases)


class CodeQATask(_CodeTask):
    """Which exception a function raises through its helper (`evaluate.code`)."""

    name = "code_qa"
    kind = KINDS[1]
    items_key = "qa_items"

    def load(self, ev: Any) -> list[GoldItem]:
        """`code.qa_items` cases of split `code.split` drawn with `code.seed`."""
        cases = code_hops(
            int(_setting(ev, "code.qa_items", 200)),
            int(_setting(ev, "code.seed", 0)),
            split=str(_setting(ev, "code.split", "test")),
        )
        return code_items(self.name, cases)


CODE_NEEDLE = CodeNeedleTask()
CODE_HOPS = CodeQATask()
