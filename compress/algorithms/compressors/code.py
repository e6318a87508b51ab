"""Structure-aware compression of source code: whole functions where the question needs them, a
skeleton elsewhere.

A module is read as definitions (`code_map`): functions, methods and classes from Python's parser,
or, where no parser is at hand (another language, or Python that does not parse), blocks by
indentation: a line and the more indented lines under it. Relevance is decided per definition (its
name, signature, docstring and body read together: the caller scores `CodeMap.documents()`), then:

1. whole definitions in a knapsack's greedy order (their chance of being the one asked for, per
   token: `Plan.sharpness`, `Plan.size_weight`), within `Plan.full_share` of the budget (all of it
   by default: tuning found any reserve for the skeleton a loss); the definitions a kept function
   calls come along (call-graph expansion: a module-level function called by name, a method of the
   same class called through `self`/`cls`, a class's `__init__`), whole when they fit, else as their
   signature; the best definition that does not fit whole keeps its header and its best body blocks
   (the dropped ones become `...`);
2. a skeleton of the rest, as far as the budget allows, most relevant first: signatures, class
   headers, a one-line docstring, `...` bodies (a class shown only for one of its members: its header);
3. what budget is left: more whole definitions.

The imports the kept lines read are kept (to a fixed point; an import guarded by a module-level
`try`/`if` when small), and the small module constants a whole definition reads. What is kept
parses (Python): a dropped body is `...`; the result is checked with `ast.parse`, and the caller falls
back to statement selection when it does not (`compress_code` returns None). Every cost is in the
target model's tokens (`count`), and the final text is counted exactly.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# what a definition's state is in a plan
# (HEAD: a class's header alone, shown for a member; SKEL: its header, one-line docstring and `...`)
DROP, HEAD, SKEL, PART, FULL = 0, 1, 2, 3, 4
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def identifier_words(name: str) -> list[str]:
    """The words of an identifier (`read_file_v2` -> read file v2, `HTTPServer` -> http server)."""
    return [w.lower() for part in name.split("_") for w in _CAMEL.findall(part)]


@dataclass
class Definition:
    """A function, method or class (or an indentation block of another language), by 0-based lines.

    `first`..`last`: its lines, decorators included; `header_last`: the signature's last line;
    `doc`: the docstring's lines (Python); `summary`: its first line; `parent`: the class it is in;
    `body`: the body's statements as line spans (the docstring out), the blocks a partial keeps."""

    name: str
    qualname: str
    kind: str  # "function" | "class" | "block"
    first: int
    header_last: int
    last: int
    indent: str
    body_indent: str
    parent: int | None = None
    doc: tuple[int, int] | None = None
    summary: str | None = None
    calls: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)
    body: list[tuple[int, int]] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    # a trailing line kept with the header in a skeleton (a closing brace of another language)
    closer: int | None = None
    # the body shares the header's line (`def f(): return 1`): no skeleton short of the whole
    inline: bool = False


@dataclass
class Statement:
    """A module-level statement that is not a definition: an import, the module docstring, a constant."""

    first: int
    last: int
    kind: str  # "import" | "guarded" (imports inside a `try`/`if`) | "docstring" | "other"
    binds: set[str] = field(default_factory=set)
    uses: set[str] = field(default_factory=set)


@dataclass
class CodeMap:
    """A source text's definitions and module statements, in line order; `python`: read by the parser
    (what is kept must parse), else by indentation."""

    text: str
    lines: list[str]
    defs: list[Definition]
    stmts: list[Statement]
    python: bool

    def documents(self) -> list[str]:
        """What each definition is scored by: its qualified name in words, then its own text (a class:
        its header, docstring and class-level statements, not its methods)."""
        out = []
        for d in self.defs:
            own = self._own_lines(d)
            words = " ".join(identifier_words(d.qualname.replace(".", "_")))
            out.append(f"{words}\n" + "\n".join(self.lines[i] for i in own))
        return out

    def signatures(self) -> list[str]:
        """Each definition's name in words and its header lines (decorators to the colon)."""
        return [
            " ".join(identifier_words(d.qualname.replace(".", "_")))
            + "\n"
            + "\n".join(self.lines[d.first : d.header_last + 1])
            for d in self.defs
        ]

    def _own_lines(self, d: Definition) -> list[int]:
        inner = {i for c in d.children for i in range(self.defs[c].first, self.defs[c].last + 1)}
        return [i for i in range(d.first, d.last + 1) if i not in inner]


@dataclass(frozen=True)
class Plan:
    """How a budget is shared (the defaults tuned on the development split of the code tasks:
    experiments/code_study/tune.py)."""

    # the share of the budget whole definitions may take before the skeleton gets its turn
    full_share: float = 1.0
    # the first pass takes definitions whole by their chance of being the one asked for per token:
    # exp(sharpness * (score - best score)) / cost ** size_weight (a knapsack's greedy order; a
    # sharpness of 0 and a size_weight of 0 is plain score order) ...
    sharpness: float = 1.0
    size_weight: float = 0.5
    # ... among the definitions scoring within `gap` of the best (the rest go to the skeleton; tuning
    # found any cut a loss)
    gap: float = float("inf")
    # call-graph expansion: callees of a whole definition come whole when they fit in the budget
    callees: bool = True
    # a module constant a kept line reads comes along when it costs at most this many tokens
    constant_tokens: int = 40
    # ... and an import inside a module-level `try`/`if` that it uses, at most this many
    guarded_tokens: int = 120


def code_map(text: str) -> CodeMap | None:
    """The text's definitions (Python's parser, else indentation blocks); None when it has none."""
    lines = text.split("\n")
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    cmap = _python_map(text, lines, tree) if tree is not None else _block_map(text, lines)
    return cmap if cmap.defs else None


def _names_in(node: ast.AST) -> tuple[set[str], set[str]]:
    """(names called, names read) in a node: `f(...)` / `self.f(...)` calls, and every Name and the
    root of every attribute chain."""
    calls, uses = set(), set()
    for n in ast.walk(node):
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Name):
                calls.add(f.id)
            elif (
                isinstance(f, ast.Attribute)
                and isinstance(f.value, ast.Name)
                and f.value.id in ("self", "cls")
            ):
                calls.add("." + f.attr)
        if isinstance(n, ast.Name):
            uses.add(n.id)
    return calls, uses


def _docstring_span(node: ast.AST) -> tuple[tuple[int, int] | None, str | None]:
    body = getattr(node, "body", [])
    if not body:
        return None, None
    first = body[0]
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        summary = next((s.strip() for s in first.value.value.strip().splitlines() if s.strip()), "")
        span = (first.lineno - 1, (first.end_lineno or first.lineno) - 1)
        return span, summary or None
    return None, None


def _python_map(text: str, lines: list[str], tree: ast.Module) -> CodeMap:
    defs: list[Definition] = []
    stmts: list[Statement] = []

    def indent_of(i: int) -> str:
        line = lines[i]
        return line[: len(line) - len(line.lstrip(" \t"))]

    def visit_def(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, parent: int | None) -> int:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)]) - 1
        last = (node.end_lineno or node.lineno) - 1
        body0 = node.body[0]
        doc, summary = _docstring_span(node)
        stmts_body = node.body[1:] if doc is not None else node.body
        # the body shares a line with the signature (`def f(): return 1`): no skeleton of it
        inline = bool(lines[body0.lineno - 1][: body0.col_offset].strip())
        # the signature ends on the line before the body starts
        header_last = body0.lineno - 1 if inline else body0.lineno - 2
        while header_last > node.lineno - 1 and lines[header_last].strip()[:1] in ("#", ""):
            header_last -= 1
        calls, uses = _names_in(node)
        qual = node.name if parent is None else f"{defs[parent].qualname}.{node.name}"
        kind = "class" if isinstance(node, ast.ClassDef) else "function"
        d = Definition(
            node.name,
            qual,
            kind,
            first,
            header_last,
            last,
            indent_of(node.lineno - 1),
            indent_of(body0.lineno - 1)
            if body0.lineno - 1 > header_last
            else indent_of(node.lineno - 1) + "    ",
            parent,
            doc,
            summary,
            calls,
            uses,
            [(s_first(s) - 1, (s.end_lineno or s.lineno) - 1) for s in stmts_body],
        )
        d.inline = inline
        defs.append(d)
        k = len(defs) - 1
        if parent is not None:
            defs[parent].children.append(k)
        if kind == "class" and not d.inline:
            for s in node.body:
                if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    visit_def(s, k)
        return k

    def s_first(s: ast.stmt) -> int:
        return min([s.lineno, *(d.lineno for d in getattr(s, "decorator_list", []))])

    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            visit_def(node, None)
            continue
        first, last = s_first(node) - 1, (node.end_lineno or node.lineno) - 1
        _, uses = _names_in(node)
        if isinstance(node, ast.Import | ast.ImportFrom):
            binds = {(a.asname or a.name).split(".")[0] for a in node.names}
            stmts.append(Statement(first, last, "import", binds, uses))
        elif i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant):
            stmts.append(Statement(first, last, "docstring"))
        elif any(isinstance(n, ast.Import | ast.ImportFrom) for n in ast.walk(node)):
            # an import inside a module-level `try`/`if` (an optional dependency): kept whole like one
            binds = {
                (a.asname or a.name).split(".")[0]
                for n in ast.walk(node)
                if isinstance(n, ast.Import | ast.ImportFrom)
                for a in n.names
            }
            stmts.append(Statement(first, last, "guarded", binds | _assigned(node), uses))
        else:
            binds = _assigned(node)
            stmts.append(Statement(first, last, "other", binds, uses))
    return CodeMap(text, lines, defs, stmts, True)


def _assigned(node: ast.stmt) -> set[str]:
    """The names a module-level statement assigns."""
    out: set[str] = set()
    for n in ast.walk(node):
        targets = (
            n.targets
            if isinstance(n, ast.Assign)
            else [n.target]
            if isinstance(n, ast.AnnAssign | ast.AugAssign)
            else []
        )
        for t in targets:
            out |= {x.id for x in ast.walk(t) if isinstance(x, ast.Name)}
    return out


def _block_map(text: str, lines: list[str]) -> CodeMap:
    """Indentation blocks: a non-blank line with more indented lines under it is a definition (nested
    one level: the blocks of a top-level block are its children); a closing line at the block's own
    indentation (`}`, `end`) is its closer."""
    defs: list[Definition] = []
    stmts: list[Statement] = []

    def depth(i: int) -> int:
        line = lines[i].expandtabs(4)
        return len(line) - len(line.lstrip())

    nonblank = [i for i, line in enumerate(lines) if line.strip()]

    def blocks(start: int, end: int, parent: int | None, level: int) -> None:
        idx = [i for i in nonblank if start <= i <= end]
        if not idx:
            return
        base = min(depth(i) for i in idx)
        k = 0
        while k < len(idx):
            i = idx[k]
            if depth(i) != base:
                k += 1
                continue
            j = k + 1
            while j < len(idx) and depth(idx[j]) > base:
                j += 1
            last = idx[j - 1]
            closer = None
            if (
                j < len(idx)
                and depth(idx[j]) == base
                and re.match(r"^\s*([})\]]+[;,]?|end\b|fi\b|done\b|esac\b)", lines[idx[j]])
            ):
                closer = idx[j]
                last = closer
                j += 1
            if last > i and (closer is None or last - 1 > i):
                body_first = idx[k + 1] if k + 1 < len(idx) else i
                name_m = _IDENT.findall(
                    re.sub(
                        r"\b(public|private|protected|static|async|export|def|fn|func|function|class|struct|impl|interface|const|let|var)\b",
                        " ",
                        lines[i],
                    )
                )
                name = name_m[0] if name_m else f"block{len(defs)}"
                d = Definition(
                    name,
                    name if parent is None else f"{defs[parent].qualname}.{name}",
                    "block",
                    i,
                    i,
                    last,
                    lines[i][: len(lines[i]) - len(lines[i].lstrip())],
                    lines[body_first][: len(lines[body_first]) - len(lines[body_first].lstrip())],
                    parent,
                    closer=closer,
                )
                end_body = closer - 1 if closer is not None else last
                d.body = _line_blocks(lines, i + 1, end_body, depth)
                defs.append(d)
                n = len(defs) - 1
                if parent is not None:
                    defs[parent].children.append(n)
                if level == 0:
                    blocks(i + 1, end_body, n, 1)
            else:
                stmts.append(Statement(i, last, "other", set(), set(_IDENT.findall(lines[i]))))
            k = j

    blocks(0, len(lines) - 1, None, 0)
    defs_sorted = sorted(range(len(defs)), key=lambda x: defs[x].first)
    if defs_sorted != list(range(len(defs))):  # keep children lists valid under reordering
        new = {old: n for n, old in enumerate(defs_sorted)}
        moved = [defs[o] for o in defs_sorted]
        for d in moved:
            d.parent = None if d.parent is None else new[d.parent]
            d.children = [new[c] for c in d.children]
        defs = moved
    return CodeMap(text, lines, defs, stmts, False)


def _line_blocks(lines: list[str], a: int, b: int, depth: Callable[[int], int]) -> list[tuple[int, int]]:
    """A body's statements by indentation: each line at the body's base depth with the deeper lines under it."""
    idx = [i for i in range(a, b + 1) if lines[i].strip()]
    if not idx:
        return []
    base = min(depth(i) for i in idx)
    out: list[tuple[int, int]] = []
    for i in idx:
        if depth(i) == base or not out:
            out.append((i, i))
        else:
            out[-1] = (out[-1][0], i)
    return out


class _Render:
    """A plan's text: lines chosen per definition state, the rest skeleton or dropped."""

    def __init__(self, cmap: CodeMap) -> None:
        self.m = cmap
        self.top_defs = [k for k, d in enumerate(cmap.defs) if d.parent is None]
        self.starts = {cmap.defs[k].first for k in self.top_defs}

    def summary_line(self, d: Definition) -> str | None:
        s = d.summary
        if not self.m.python or s is None or '"""' in s or "\\" in s or s.endswith('"'):
            return None
        return f'{d.body_indent}"""{s}"""'

    def definition(self, k: int, state: np.ndarray, blocks: dict[int, set[int]]) -> list[str]:
        m, d = self.m, self.m.defs[k]
        st = int(state[k])
        if st == DROP:
            return []
        if st == FULL or d.inline:
            return m.lines[d.first : d.last + 1]
        out = m.lines[d.first : d.header_last + 1]
        summary = self.summary_line(d) if st != HEAD else None
        body: list[str] = []
        if d.kind == "class" or (d.kind == "block" and d.children):
            # a container: its members by their own state, in order; its own statements drop
            for c in d.children:
                body += self.definition(c, state, blocks)
        elif st == PART:
            keep = blocks.get(k, set())
            gap = False
            for j, (a, b) in enumerate(d.body):
                if j in keep:
                    body += m.lines[a : b + 1]
                    gap = False
                elif not gap:
                    body.append(d.body_indent + ("..." if m.python else "…"))
                    gap = True
        if summary is not None:
            out.append(summary)
        if not body:
            body = [d.body_indent + ("..." if m.python else "…")] if (m.python or summary is None) else []
        out += body
        if d.closer is not None:
            out.append(m.lines[d.closer])
        return out

    def text(self, state: np.ndarray, blocks: dict[int, set[int]], kept_stmts: set[int]) -> str:
        m = self.m
        items: list[tuple[int, list[str]]] = []
        for k in self.top_defs:
            lines = self.definition(k, state, blocks)
            if lines:
                items.append((m.defs[k].first, lines))
        for s_i, s in enumerate(m.stmts):
            if s_i in kept_stmts:
                items.append((s.first, m.lines[s.first : s.last + 1]))
        items.sort(key=lambda x: x[0])
        # a blank line before each top-level definition, as written (one token buys the reader the shape)
        out: list[str] = []
        for first, lines in items:
            if out and first in self.starts:
                out.append("")
            out += lines
        return "\n".join(out)


def _line_costs(cmap: CodeMap, count: Callable[[str], int], starts: Sequence[int] | None) -> np.ndarray:
    """Each line's tokens (its newline included), from one tokenisation when token offsets are known."""
    n = len(cmap.lines)
    if starts is not None:
        offsets = np.cumsum([0] + [len(line) + 1 for line in cmap.lines])
        line_of = np.searchsorted(offsets, np.asarray(starts, dtype=np.int64), side="right") - 1
        return np.bincount(np.clip(line_of, 0, n - 1), minlength=n).astype(np.int64)
    return np.asarray([count(line + "\n") if line.strip() else 1 for line in cmap.lines], dtype=np.int64)


def compress_code(
    cmap: CodeMap,
    scores: np.ndarray,
    budget: int,
    count: Callable[[str], int],
    token_starts: Sequence[int] | None = None,
    block_scores: Callable[[list[str]], np.ndarray] | None = None,
    plan: Plan | None = None,
) -> str | None:
    """The code compressed to `budget` tokens (by `count`): see the module's docstring. `scores`: each
    definition's relevance (`cmap.documents()`, higher first; all equal: no question, text order);
    `token_starts`: the text's token offsets (one tokenisation for every line's cost);
    `block_scores`: scores of a partial definition's body blocks (None: lexical order by position).
    None when what is kept would not parse (the caller selects statements instead)."""
    p = plan or Plan()
    m = cmap
    n = len(m.defs)
    line_cost = _line_costs(m, count, token_starts)
    cum = np.concatenate([[0], np.cumsum(line_cost)])

    def lines_cost(a: int, b: int) -> int:
        return int(cum[b + 1] - cum[a])

    render = _Render(m)
    dots = 2
    full_cost = np.asarray([lines_cost(d.first, d.last) for d in m.defs], dtype=np.int64)
    # a class shown for one of its members: its header lines alone; a skeleton adds its one-line
    # docstring and the `...`
    bare_cost = np.asarray(
        [
            lines_cost(d.first, d.header_last) + (int(line_cost[d.closer]) if d.closer is not None else 0)
            for d in m.defs
        ],
        dtype=np.int64,
    )
    summaries = [render.summary_line(d) for d in m.defs]
    head_cost = bare_cost + dots + np.asarray([count(x) + 1 if x else 0 for x in summaries], dtype=np.int64)
    inline = np.asarray([d.inline for d in m.defs], dtype=bool)
    head_cost[inline] = full_cost[inline]
    bare_cost[inline] = full_cost[inline]
    stmt_cost = np.asarray([lines_cost(s.first, s.last) for s in m.stmts], dtype=np.int64)
    # a guarded import (an optional dependency's `try`/`if`) comes along only when it is small
    imports = [
        i
        for i, s in enumerate(m.stmts)
        if s.kind == "import" or (s.kind == "guarded" and stmt_cost[i] <= p.guarded_tokens)
    ]
    binder: dict[str, int] = {}
    for i in imports:
        for name in m.stmts[i].binds:
            binder.setdefault(name, i)
    constants: dict[str, int] = {}
    for i, s in enumerate(m.stmts):
        if s.kind == "other" and stmt_cost[i] <= p.constant_tokens:
            for name in s.binds:
                constants.setdefault(name, i)
    by_name: dict[str, int] = {}
    for k, d in enumerate(m.defs):
        if d.parent is None and d.kind != "block":
            by_name.setdefault(d.name, k)

    state = np.zeros(n, dtype=np.int64)
    blocks: dict[int, set[int]] = {}
    kept_stmts: set[int] = set()
    used = 0

    def ancestors(k: int) -> list[int]:
        out = []
        par = m.defs[k].parent
        while par is not None:
            out.append(par)
            par = m.defs[par].parent
        return out

    def needs(k: int, whole: bool) -> tuple[int, list[int], list[int]]:
        """The extra cost of showing `k`: its class headers not yet shown and, when its body is
        shown, the imports its lines use not yet kept."""
        heads = [a for a in ancestors(k) if state[a] == DROP]
        stm: list[int] = []
        if whole and m.python:
            for name in sorted(m.defs[k].uses):
                i = binder.get(name)
                if i is not None and i not in kept_stmts and i not in stm:
                    stm.append(i)
        extra = (int(bare_cost[heads].sum()) if heads else 0) + (int(stmt_cost[stm].sum()) if stm else 0)
        return extra, heads, stm

    def cost_now(k: int) -> int:
        st = int(state[k])
        if st == FULL:
            return int(full_cost[k])
        if st == PART:
            return int(head_cost[k]) + sum(lines_cost(*m.defs[k].body[j]) for j in blocks.get(k, set()))
        return int(head_cost[k]) if st == SKEL else int(bare_cost[k]) if st == HEAD else 0

    def commit(k: int, to: int, heads: list[int], stm: list[int], cost: int) -> None:
        nonlocal used
        for a in heads:
            state[a] = HEAD
        kept_stmts.update(stm)
        state[k] = to
        if to == FULL:  # everything inside is shown with it
            for c in m.defs[k].children:
                state[c] = FULL
        used += cost

    def show(k: int, to: int, limit: int) -> bool:
        if state[k] >= to:
            return True
        extra, heads, stm = needs(k, to == FULL)
        cost = (int(full_cost[k]) if to == FULL else int(head_cost[k])) - cost_now(k) + extra
        if used + cost > limit:
            return False
        commit(k, to, heads, stm, cost)
        return True

    def partial(k: int, limit: int) -> bool:
        """The definition's header and its best body blocks within `limit`, the dropped ones `...`."""
        d = m.defs[k]
        extra, heads, stm = needs(k, True)
        room = limit - used - extra - int(head_cost[k])
        if room <= 0 or not d.body:
            return False
        texts = ["\n".join(m.lines[a : b + 1]) for a, b in d.body]
        sc = (
            np.asarray(block_scores(texts), dtype=np.float64)
            if block_scores is not None
            else np.zeros(len(texts))
        )
        # among equals the body's start and its end first: the set-up and what it returns
        prior = np.zeros(len(texts))
        prior[0] += 1e-3
        prior[-1] += 5e-4
        keep: set[int] = set()
        spent = 0
        for j in np.lexsort((np.arange(len(texts)), -(sc + prior))).tolist():
            c = lines_cost(*d.body[j]) + dots
            if spent + c <= room:
                keep.add(int(j))
                spent += c
        if not keep:
            return False
        blocks[k] = keep
        commit(k, PART, heads, stm, int(head_cost[k]) + spent + extra)
        return True

    scores = np.asarray(scores, dtype=np.float64)
    order = [int(k) for k in np.lexsort((np.arange(n), -scores))]
    best = float(scores.max()) if n else 0.0
    asked = n > 0 and best > float(scores.min())
    containers = {k for k, d in enumerate(m.defs) if d.children}
    if asked:
        cap = int(p.full_share * budget)
        value = np.exp(p.sharpness * (scores - best)) / np.maximum(full_cost, 1) ** p.size_weight
        first = [k for k in order if scores[k] >= best - p.gap]
        first.sort(key=lambda k: (-value[k], k))
        for k in first:
            # a class whole takes every method with it: only a small one
            if k in containers and full_cost[k] > cap // 2:
                continue
            took = show(k, FULL, cap) or (k == order[0] and k not in containers and partial(k, cap))
            if took and p.callees:
                # a callee is what the caller means: whole whenever the whole budget allows
                for c in _callees(m, k, by_name):
                    if not show(c, FULL, budget):
                        show(c, SKEL, budget)
    # the skeleton: most relevant first (text order without a question)
    sk_order = order if asked else list(range(n))
    for k in sk_order:
        if state[k] == DROP:
            show(k, SKEL, budget)
    # small module constants that what is kept whole reads
    for k in range(n):
        if state[k] == FULL and m.python:
            for name in sorted(m.defs[k].uses):
                const = constants.get(name)
                if const is not None and const not in kept_stmts and used + stmt_cost[const] <= budget:
                    kept_stmts.add(const)
                    used += int(stmt_cost[const])
    # the rest of the budget: more whole definitions
    for k in sk_order:
        if state[k] != FULL and k not in containers:
            show(k, FULL, budget)

    def rendered() -> str:
        # the imports are those the kept lines use (a skeleton's base classes and decorators too)
        if m.python:
            # to a fixed point: an optional import's `try` block can read another import's name
            kept_stmts.difference_update(imports)
            for _ in range(4):
                used_names = _used_names(render.text(state, blocks, kept_stmts))
                more = {binder[x] for x in used_names if x in binder} - kept_stmts
                if not more:
                    break
                kept_stmts.update(more)
        return render.text(state, blocks, kept_stmts)

    text = rendered()
    # the estimates can fall short: the least relevant whole definition becomes a skeleton, then
    # skeletons go, until the exact count fits
    worst_first = order[::-1] if asked else list(range(n))[::-1]
    for _ in range(4 * n + 8):
        if count(text) <= budget:
            break
        victim = next((k for k in worst_first if state[k] in (FULL, PART) and k not in containers), None)
        if victim is None:
            victim = next((k for k in worst_first if state[k] == FULL), None)
        if victim is not None:
            state[victim] = SKEL
            for c in m.defs[victim].children:
                state[c] = SKEL
        else:
            victim = next(
                (k for k in worst_first if state[k] != DROP and not _shown_children(m, state, k)), None
            )
            if victim is None:
                break
            state[victim] = DROP
        text = rendered()
    if m.python:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return None
    return text


def _used_names(code: str) -> set[str]:
    """The names a piece of Python reads (empty when it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _shown_children(m: CodeMap, state: np.ndarray, k: int) -> bool:
    return any(state[c] != DROP for c in m.defs[k].children)


def _callees(m: CodeMap, k: int, by_name: dict[str, int]) -> list[int]:
    """The definitions `k` calls: module-level functions by name, methods of its class through
    `self.`/`cls.`, a class's `__init__` when the class is called."""
    d = m.defs[k]
    out: list[int] = []
    cls = d.parent if d.parent is not None and m.defs[d.parent].kind == "class" else None
    for name in sorted(d.calls):
        target: int | None = None
        if name.startswith("."):
            if cls is not None:
                target = next((c for c in m.defs[cls].children if m.defs[c].name == name[1:]), None)
        else:
            target = by_name.get(name)
            if target is not None and m.defs[target].kind == "class":
                target = next((c for c in m.defs[target].children if m.defs[c].name == "__init__"), target)
        if target is not None and target != k and target not in out:
            out.append(target)
    return out
