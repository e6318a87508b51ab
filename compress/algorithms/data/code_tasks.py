"""Gold-answer questions over real Python modules: the `code_needle` and `code_qa` tasks' data (no download).

The modules are this machine's own standard library (3k-12k tokens each, tests and vendored code left
out). `needle_functions` is RepoQA's needle-function search: one function's docstring is removed from
its module and its first sentence becomes the question ("which function does this?"), answered by the
function's name. `code_hops` needs two definitions: a function F calls a helper G of its module (or of
its class, through `self.`), G raises an exception F's source never names, and the question asks, naming
F only, which exception F can raise through the helper.

Every case is checked where it is built: the module still parses, the description does not occur in the
context, the answer is defined (needle) or raised (hops) exactly once. Modules are split by a hash of
their path (`dev` about 30%, `test` the rest), so tuning on `dev` never reads a `test` module.
"""

from __future__ import annotations

import ast
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from compress.algorithms.data.corpora import stable_hash

KINDS = ("needle-function", "qa-hops")
SPLITS = ("dev", "test", "all")
# share of modules (by a hash of their path) in the dev split
DEV_PERCENT = 30
MIN_CHARS = 10_000  # about 2.5k tokens
MAX_CHARS = 45_000  # about 11k tokens
# hops: the standard library has too few sound (caller, helper) pairs in modules of that size for 200
# test cases, so their modules range wider (2k-25k tokens)
HOPS_MIN_CHARS = 8_000
HOPS_MAX_CHARS = 100_000
# a description shorter than this many words is too vague to single out one function
MIN_WORDS = 6
MAX_WORDS = 60
# at least this many statements in the function's body (a one-liner is found by its name alone)
MIN_STATEMENTS = 3
# at most this share of the module's characters: the function must fit a 4x budget
MAX_SHARE = 0.2

Func = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class CodeCase:
    """One question over one module's source.

    `evidence`: the source texts that must survive whole (needle: the target function without its
    docstring; hops: the caller's then the helper's source), decorators included, with their original
    indentation. `name`: the target function (`Class.method` for a method; hops: the caller F);
    `def_line`: its `def ...` first line, stripped; `module`: its path under the standard library.
    `strict` (hops): the exception is named in the module only inside the helper, so `raise X` is its one
    mention; when False it is raised or named elsewhere too (still by nothing else F calls)."""

    id: str
    kind: str
    context: str
    question: str
    answer: str
    evidence: tuple[str, ...]
    name: str
    def_line: str
    module: str
    tokens_hint: int
    strict: bool = True


# --- modules ---------------------------------------------------------------------------------------


def _root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def module_split(module: str) -> str:
    """`dev` or `test`: decided by a hash of the module's path, the same on every machine."""
    return "dev" if int(stable_hash(module), 16) % 100 < DEV_PERCENT else "test"


# parts of the standard library left out: tests (IDLE's own too), vendored code, installed packages
_SKIP_PARTS = {"test", "tests", "idle_test", "lib2to3", "site-packages", "dist-packages", "__pycache__"}


@lru_cache(maxsize=1)
def _sizes() -> tuple[tuple[str, int], ...]:
    """Every standard-library module that decodes, with its length in characters, sorted by path."""
    out = []
    root = _root()
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if _SKIP_PARTS.intersection(rel.parts):
            continue
        try:
            out.append((str(rel), len(path.read_text(encoding="utf-8"))))
        except (UnicodeDecodeError, OSError):
            continue
    return tuple(sorted(out))


def modules(split: str, min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS) -> list[str]:
    """The modules of `split` (`dev`, `test` or `all`) between `min_chars` and `max_chars` long."""
    if split not in SPLITS:
        raise ValueError(f"code tasks: split must be one of {SPLITS} (got {split!r}).")
    return [
        m
        for m, size in _sizes()
        if min_chars <= size <= max_chars and (split == "all" or module_split(m) == split)
    ]


@lru_cache(maxsize=1024)
def _text(module: str) -> str | None:
    """The module's source (every one in range: about 15 MB); None when it does not read."""
    try:
        return (_root() / module).read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


# the trees are large (a few hundred MB for every module): the candidates found in one are kept instead
@lru_cache(maxsize=32)
def _parsed(module: str) -> tuple[str, ast.Module] | None:
    """The module's source and tree; None when it does not read or parse."""
    source = _text(module)
    if source is None:
        return None
    try:
        return source, ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _functions(tree: ast.Module) -> Iterator[tuple[str, Func, ast.ClassDef | None]]:
    """Every function not nested in a function: module-level ones and methods (of nested classes too),
    with their qualified name and their class."""

    def walk(
        body: list[ast.stmt], prefix: str, cls: ast.ClassDef | None
    ) -> Iterator[tuple[str, Func, ast.ClassDef | None]]:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield prefix + node.name, node, cls
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.", node)

    yield from walk(tree.body, "", None)


def _defined_names(tree: ast.Module) -> dict[str, int]:
    """How many def and class statements bind each name anywhere in the module."""
    counts: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            counts[node.name] = counts.get(node.name, 0) + 1
    return counts


def _start(node: Func) -> int:
    """The first line of a definition, its decorators included (1-based)."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _source(lines: list[str], node: Func) -> str:
    return "\n".join(lines[_start(node) - 1 : node.end_lineno or node.lineno])


def _flat(text: str) -> str:
    return " ".join(text.split()).lower()


def _statements(node: Func, skip_first: bool) -> int:
    body = node.body[1:] if skip_first else node.body
    return sum(1 for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.stmt))


def _word(name: str) -> re.Pattern[str]:
    """`name` as a whole identifier."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


# --- needle: which function does this? -------------------------------------------------------------


def first_sentence(doc: str) -> str:
    """The docstring's first sentence (of its first paragraph), whitespace normalised."""
    para = " ".join(doc.strip().split("\n\n")[0].split())
    m = re.match(r"(.+?[.!?])(?=\s+[A-Z(`'\"]|$)", para)
    return m.group(1) if m else para


@dataclass(frozen=True)
class _Needle:
    """A function whose docstring can be removed: where the docstring's lines are, and its sentence."""

    qualname: str
    doc_start: int  # 0-based line index of the docstring's first line
    doc_end: int  # exclusive
    sentence: str


def _doc_lines(lines: list[str], node: Func) -> tuple[int, int] | None:
    """The 0-based line range of the function's docstring when it fills whole lines of its own."""
    doc = node.body[0]
    if not (isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)):
        return None
    if doc.end_lineno is None or doc.end_col_offset is None:
        return None
    first, last = lines[doc.lineno - 1].encode(), lines[doc.end_lineno - 1].encode()
    # ast's offsets count UTF-8 bytes; anything else on those lines (code, a comment) would go with it
    if first[: doc.col_offset].strip() or last[doc.end_col_offset :].strip():
        return None
    if doc.lineno <= node.lineno:  # `def f(): "doc"` on one line
        return None
    return doc.lineno - 1, doc.end_lineno


@lru_cache(maxsize=512)
def _needles(module: str) -> tuple[_Needle, ...]:
    """The module's functions that make a sound needle question (the checks that need the module
    without the docstring run when the case is built)."""
    parsed = _parsed(module)
    if parsed is None:
        return ()
    source, tree = parsed
    lines = source.splitlines()
    defined = _defined_names(tree)
    funcs = list(_functions(tree))
    # the first sentence of every docstring in the module, nested functions' too: a shared one is vague
    sentences: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            doc = ast.get_docstring(node)
            if doc:
                key = _flat(first_sentence(doc))
                sentences[key] = sentences.get(key, 0) + 1
    flat_module = _flat(source)
    out = []
    for qualname, node, _ in funcs:
        name = node.name
        doc = ast.get_docstring(node)
        if not doc or (name.startswith("__") and name.endswith("__")) or defined.get(name) != 1:
            continue
        sentence = first_sentence(doc)
        words = sentence.split()
        if not (MIN_WORDS <= len(words) <= MAX_WORDS) or ">>>" in sentence:
            continue
        if sentences.get(_flat(sentence)) != 1 or _word(name.lower()).search(sentence.lower()):
            continue  # shared with another function, or it names the answer
        if flat_module.count(_flat(sentence)) > 1:  # it also stands outside the docstring
            continue
        span = _doc_lines(lines, node)
        if span is None or _statements(node, skip_first=True) < MIN_STATEMENTS:
            continue
        size = len(_source(lines, node)) - sum(len(x) + 1 for x in lines[span[0] : span[1]])
        if size > MAX_SHARE * (len(source) - size):
            continue
        out.append(_Needle(qualname, span[0], span[1], sentence))
    return tuple(out)


def _find(tree: ast.Module, qualname: str) -> Func | None:
    return next((node for q, node, _ in _functions(tree) if q == qualname), None)


def _needle_case(module: str, needle: _Needle) -> CodeCase | None:
    """The case of one function: the module without its docstring; None when a check fails."""
    source = _text(module)
    if source is None:
        return None
    lines = source.splitlines(keepends=True)
    context = "".join(lines[: needle.doc_start] + lines[needle.doc_end :])
    try:
        tree = ast.parse(context)
    except SyntaxError:
        return None
    node = _find(tree, needle.qualname)
    # quoted in the question: its own double quotes become single ones
    description = needle.sentence.rstrip(".").replace('"', "'")
    flat = _flat(context)
    if node is None or _flat(needle.sentence) in flat or _flat(description) in flat:
        return None
    plain = context.splitlines()
    text = _source(plain, node)
    if len(text) > MAX_SHARE * len(context):
        return None
    question = (
        f'Which function in this code does the following: "{description}"? '
        "Answer with the function's name only."
    )
    return CodeCase(
        id=f"code-needle:{module}:{needle.qualname}",
        kind="needle-function",
        context=context,
        question=question,
        answer=node.name,
        evidence=(text,),
        name=needle.qualname,
        def_line=plain[node.lineno - 1].strip(),
        module=module,
        tokens_hint=len(context) // 4,
    )


# --- hops: which exception does F raise through its helper? ----------------------------------------


@dataclass(frozen=True)
class _Hop:
    caller: str  # F's qualified name
    helper: str  # G's qualified name
    exception: str
    strict: bool  # the exception occurs in the module only inside G (`raise X` once)
    caller_lines: tuple[int, int]  # F's first line (its decorators'), its last and its def line (1-based)
    helper_lines: tuple[int, int]
    def_lineno: int


def _inside_try(func: Func, target: ast.AST) -> bool:
    """Whether `target` sits in the body of a `try` with handlers in `func` (it may be caught there)."""
    for node in ast.walk(func):
        if (
            isinstance(node, ast.Try | ast.TryStar)
            and node.handlers
            and any(target is n for stmt in node.body for n in ast.walk(stmt))
        ):
            return True
    return False


def _raised(node: Func) -> list[tuple[str | None, ast.Raise]]:
    """Every `raise` in the function, with the exception class's name when it is a plain name."""
    out: list[tuple[str | None, ast.Raise]] = []
    for n in ast.walk(node):
        if isinstance(n, ast.Raise):
            exc = n.exc.func if isinstance(n.exc, ast.Call) else n.exc
            out.append((exc.id if isinstance(exc, ast.Name) else None, n))
    return out


def _calls(node: Func, helpers: dict[str, str], methods: dict[str, str]) -> list[tuple[str, ast.Call]]:
    """F's calls of a module-level function by name or of a method of its class through `self.`, by
    the callee's qualified name."""
    out = []
    for n in ast.walk(node):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        if isinstance(f, ast.Name) and f.id in helpers:
            out.append((helpers[f.id], n))
        elif (
            isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name)
            and f.value.id == "self"
            and f.attr in methods
        ):
            out.append((methods[f.attr], n))
    return out


@lru_cache(maxsize=512)
def _hops(module: str) -> tuple[_Hop, ...]:
    """The module's (caller, helper, exception) triples that make a sound question: F raises nothing of
    its own and never names the exception; of the functions F calls (module-level ones by name, its
    class's methods through `self.`), exactly one raises, outside any `try` of F; that helper G raises
    one exception class, outside any `try` of G. `strict`: the exception also occurs in the module only
    inside G, so `raise X` is its one mention (the standard library holds too few of those for 200)."""
    parsed = _parsed(module)
    if parsed is None:
        return ()
    source, tree = parsed
    lines = source.splitlines()
    defined = _defined_names(tree)
    funcs = {q: (node, cls) for q, node, cls in _functions(tree)}
    helpers = {n.name: n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    functions = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    raised_by = {q: _raised(node) for q, (node, _) in funcs.items()}
    raising: dict[str, str] = {}  # qualname -> the one exception class it raises (none: not a helper)
    strict: set[str] = set()
    for q, (node, _) in funcs.items():
        raised = raised_by[q]
        names = {name for name, _ in raised}
        if len(names) != 1 or None in names or any(_inside_try(node, r) for _, r in raised):
            continue  # no raise, several exceptions, a re-raise, or a raise that G itself may catch
        (exc,) = names
        if exc is None or exc in functions:
            continue  # `raise make_error(...)`: a factory, not the exception's class
        raising[q] = exc
        start, end = _start(node), node.end_lineno or node.lineno
        where = [source.count("\n", 0, m.start()) + 1 for m in _word(exc).finditer(source)]
        if (
            all(start <= w <= end for w in where)
            and len(re.findall(rf"raise {re.escape(exc)}\b", source)) == 1
        ):
            strict.add(q)
    out = []
    for q, (node, cls) in funcs.items():
        if defined.get(node.name) != 1 or raised_by[q]:
            continue
        methods = (
            {
                m.name: f"{q.rsplit('.', 1)[0]}.{m.name}"
                for m in cls.body
                if isinstance(m, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            if cls is not None
            else {}
        )
        calls = [(g, c) for g, c in _calls(node, helpers, methods) if g != q and g in funcs]
        # exactly one callee raises anything: the question has one answer
        callees = {g for g, _ in calls if raised_by[g]}
        if len(callees) != 1:
            continue
        (g,) = callees
        if g not in raising or defined.get(funcs[g][0].name) != 1:
            continue
        if any(_inside_try(node, c) for h, c in calls if h == g):
            continue  # F may catch it
        exc = raising[g]
        if _word(exc).search(_source(lines, node)):
            continue
        g_node = funcs[g][0]
        out.append(
            _Hop(
                q,
                g,
                exc,
                g in strict,
                (_start(node), node.end_lineno or node.lineno),
                (_start(g_node), g_node.end_lineno or g_node.lineno),
                node.lineno,
            )
        )
    return tuple(out)


def _hop_case(module: str, hop: _Hop) -> CodeCase | None:
    source = _text(module)
    if source is None:
        return None
    lines = source.splitlines()

    def text(span: tuple[int, int]) -> str:
        return "\n".join(lines[span[0] - 1 : span[1]])

    question = (
        f"Which exception can `{hop.caller}` raise through the helper function it calls? "
        "Answer with the exception class name only."
    )
    return CodeCase(
        id=f"code-qa:{module}:{hop.caller}",
        kind="qa-hops",
        context=source,
        question=question,
        answer=hop.exception,
        evidence=(text(hop.caller_lines), text(hop.helper_lines)),
        name=hop.caller,
        def_line=lines[hop.def_lineno - 1].strip(),
        module=module,
        tokens_hint=len(source) // 4,
        strict=hop.strict,
    )


# --- drawing ---------------------------------------------------------------------------------------


def _draw(kind: str, n: int, seed: int, split: str, min_chars: int, max_chars: int) -> list[CodeCase]:
    """`n` cases drawn round-robin over the split's modules in a seeded order (each module's
    candidates in a seeded order too): every module gives one before any gives two."""
    rng = random.Random(f"code:{kind}:{seed}:{split}")
    pools: list[tuple[str, list[_Needle | _Hop]]] = []
    for m in modules(split, min_chars, max_chars):
        found: list[_Needle | _Hop] = [*(_needles(m) if kind == KINDS[0] else _hops(m))]
        if found:
            rng.shuffle(found)
            # hops whose exception the module names only inside the helper come first
            found.sort(key=lambda c: isinstance(c, _Hop) and not c.strict)
            pools.append((m, found))
    rng.shuffle(pools)
    out: list[CodeCase] = []
    depth = 0
    while len(out) < n and any(depth < len(p) for _, p in pools):
        for m, pool in pools:
            if depth < len(pool) and len(out) < n:
                cand = pool[depth]
                case = _needle_case(m, cand) if isinstance(cand, _Needle) else _hop_case(m, cand)
                if case is not None:
                    out.append(case)
        depth += 1
    if len(out) < n:
        raise ValueError(
            f"code tasks: only {len(out)} {kind} cases in the {split} split of this machine's standard "
            f"library (asked for {n}); ask for fewer, or use split='all'."
        )
    return out


def needle_functions(
    n: int, seed: int, split: str = "test", min_chars: int = MIN_CHARS, max_chars: int = MAX_CHARS
) -> list[CodeCase]:
    """`n` needle-function cases (RepoQA): a module of `min_chars`-`max_chars` characters with one
    function's docstring removed, the question its first sentence, the answer the function's name.
    The same for the same seed, split and Python installation."""
    return _draw(KINDS[0], n, seed, split, min_chars, max_chars)


def code_hops(
    n: int,
    seed: int,
    split: str = "test",
    min_chars: int = HOPS_MIN_CHARS,
    max_chars: int = HOPS_MAX_CHARS,
) -> list[CodeCase]:
    """`n` two-definition questions: which exception a function raises through the helper it calls
    (the module unchanged; the evidence the caller's and the helper's sources)."""
    return _draw(KINDS[1], n, seed, split, min_chars, max_chars)


def available(kind: str, split: str, min_chars: int | None = None, max_chars: int | None = None) -> int:
    """How many candidate cases of `kind` the split's modules hold (before the checks run on the built
    context, which almost never fail); sizes default to the kind's own."""
    needle = kind == KINDS[0]
    lo = min_chars if min_chars is not None else (MIN_CHARS if needle else HOPS_MIN_CHARS)
    hi = max_chars if max_chars is not None else (MAX_CHARS if needle else HOPS_MAX_CHARS)
    find = _needles if needle else _hops
    return sum(len(find(m)) for m in modules(split, lo, hi))
