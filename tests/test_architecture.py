"""The package's shape: first-party imports at module top, no import circle, layers that only point
down, every module importable.

An AST scan of `compress/`: each module's imports of `compress.*` that run when it is imported are
its edges: statements at module level, also inside `try`, `if` and `with` blocks and class bodies
(only `if TYPE_CHECKING:` never runs), and `importlib.import_module(...)` of a first-party name (a
constant, a constant of the module, or a package's own modules found by `pkgutil.iter_modules`).
Importing `compress.a.b` also runs `compress/a/__init__.py`. The graph must be acyclic, and no function
may import a first-party module (that hides dependencies and dodges circles; the root package's
lazy `__getattr__` is the one exception: `import compress` stays light).

Two levels up: the tree has three groups, top to bottom: the product surface (`compress/*` outside
the two folders below: commands, library, serve, integrations, the pipeline), `compress/algorithms/`
and `compress/infra/`; a group imports only itself and the groups below it. Inside them, each folder
(or module) is a layer: `compress.serve`, `compress.algorithms.kinds`, `compress.infra.llm`; the
layers' graph must be acyclic too, so no folder imports one that imports it back.
"""

from __future__ import annotations

import ast
import itertools
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "compress"
# top to bottom: a group imports itself and the groups after it
GROUPS = ("surface", "algorithms", "infra")


def module_name(path: Path, root: Path = ROOT) -> str:
    """`compress/a/b.py` -> `compress.a.b`; `compress/a/__init__.py` -> `compress.a`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources(package: Path = PACKAGE) -> dict[str, str]:
    """Every module of the package by name, with its source."""
    return {
        module_name(p, package.parent): p.read_text()
        for p in sorted(package.rglob("*.py"))
        # the Hugging Face `evaluate` modules are loaded by path, not as part of the package
        if "hf" not in p.relative_to(package).parts[:-1] or p.name == "__init__.py"
    }


MODULES = sources()


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, str] | set[str]) -> list[str]:
    """The first-party modules an import statement runs (a name imported from a package may be a module)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.module:
        names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    else:
        names = []
    return [n for n in names if n in modules]


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return isinstance(test, ast.Name | ast.Attribute) and ast.unparse(test).endswith("TYPE_CHECKING")


def _run_at_import(body: list[ast.stmt]) -> list[ast.stmt]:
    """The statements of a block that run when the module is imported: nested blocks (try, if, with,
    for, class bodies) opened, functions and `if TYPE_CHECKING:` left out."""
    out: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or _type_checking(node):
            continue
        out.append(node)
        for field in ("body", "orelse", "finalbody"):
            out += _run_at_import(getattr(node, field, []) or [])
        for handler in getattr(node, "handlers", []) or []:
            out += _run_at_import(handler.body)
    return out


def _dynamic(name: str, tree: ast.Module, modules: dict[str, str] | set[str]) -> set[str]:
    """What `importlib.import_module` reaches in a module: its constant first-party names, and every
    module of the package when it walks its own `__path__` with `pkgutil.iter_modules`."""
    calls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and ast.unparse(n.func) in ("importlib.import_module", "import_module")
    ]
    if not calls:
        return set()
    out = {
        c.value
        for c in ast.walk(tree)
        if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value in modules
    }
    if any(ast.unparse(n.func).endswith("iter_modules") for n in ast.walk(tree) if isinstance(n, ast.Call)):
        out |= {m for m in modules if m.rsplit(".", 1)[0] == name}
    return out


def graph(modules: dict[str, str] | None = None) -> tuple[dict[str, set[str]], list[str]]:
    """Every module's first-party edges (what importing it runs), and every function-local
    first-party import."""
    modules = MODULES if modules is None else modules
    edges: dict[str, set[str]] = {}
    local: list[str] = []
    for name, src in modules.items():
        tree = ast.parse(src, name)
        deps: set[str] = set()
        for stmt in _run_at_import(tree.body):
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                deps |= set(_targets(stmt, modules))
        deps |= _dynamic(name, tree, modules)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom) and _targets(inner, modules):
                        local.append(f"{name}:{inner.lineno}")
        # importing a module runs its packages' __init__ first
        deps |= {p for d in deps for p in _parents(d)}
        deps.discard(name)
        edges[name] = {d for d in deps if d not in _parents(name)}
    return edges, local


def test_no_import_circle() -> None:
    edges, _ = graph()
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {' -> '.join(exc.args[1])}") from exc
    assert set(order) == set(MODULES)


def group(module: str) -> str:
    """The group a module belongs to: `algorithms`, `infra`, or the product surface."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in GROUPS else "surface"


def layer(module: str) -> str:
    """The layer a module belongs to: its folder (`compress.a.b` -> `a`; `compress.infra.llm.x` ->
    `infra.llm`) or its own name for a module at a group's top."""
    parts = module.split(".")
    if len(parts) > 2 and parts[1] in GROUPS:
        return f"{parts[1]}.{parts[2]}"
    return parts[1] if len(parts) > 1 else "compress"


def layer_graph(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    """Which layer imports which (a package's own `__init__` and the root package left out)."""
    out: dict[str, set[str]] = {}
    for module, deps in edges.items():
        here = layer(module)
        out.setdefault(here, set())
        out[here] |= {layer(d) for d in deps if d != "compress" and layer(d) != here}
    return out


def layer_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A loop of layers, or None when the layers only point down."""
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        return list(exc.args[1])
    return None


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Every import of a group above the importer's (`infra` importing `algorithms`, say)."""
    rank = {g: i for i, g in enumerate(GROUPS)}
    return sorted(
        f"{m} -> {d}"
        for m, ds in edges.items()
        for d in ds
        if d != "compress" and rank[group(d)] < rank[group(m)]
    )


def test_groups_only_point_down() -> None:
    edges, _ = graph()
    assert not upward(edges), "imports of a group above: " + ", ".join(upward(edges))


def test_layers_only_point_down() -> None:
    edges, _ = graph()
    layers = layer_graph(edges)
    cycle = layer_cycle(layers)
    if cycle:
        # name the module imports behind each step of the loop, so the reader sees what to move
        steps = []
        for a, b in itertools.pairwise(cycle):
            why = sorted(
                f"{m} -> {d}" for m, ds in edges.items() if layer(m) == a for d in ds if layer(d) == b
            )
            steps.append(f"{a} -> {b} ({', '.join(why[:3])})")
        raise AssertionError("layers import each other back: " + "; ".join(steps))
    back = {(a, b) for a, bs in layers.items() for b in bs if a in layers.get(b, set())}
    assert not back


def test_first_party_imports_sit_at_module_top() -> None:
    _, local = graph()
    assert not local, "first-party imports inside functions: " + ", ".join(local)


def test_every_module_imports_in_dependency_order() -> None:
    edges, _ = graph()
    order = list(TopologicalSorter(edges).static_order())
    script = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    proc = subprocess.run(
        [sys.executable, "-c", script, *order], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_the_layer_check_sees_folders_that_import_each_other() -> None:
    edges = {
        "compress.a.x": {"compress.b.y", "compress.infra.errors"},
        "compress.b.y": {"compress.c.z"},
        "compress.c.z": {"compress.a", "compress.a.w"},
        "compress.a.w": set(),
        "compress.infra.errors": set(),
    }
    layers = layer_graph(edges)
    assert layers["a"] == {"b", "infra.errors"} and layers["c"] == {"a"}
    assert set(layer_cycle(layers) or []) == {"a", "b", "c"}
    edges["compress.c.z"] = {"compress.infra.errors"}
    assert layer_cycle(layer_graph(edges)) is None


def test_the_scan_sees_a_circle_and_a_local_import() -> None:
    """The checks above can fail: a hand-made circle is found, a function-local import is flagged."""
    edges = {"compress.a": {"compress.b"}, "compress.b": {"compress.a"}}
    try:
        list(TopologicalSorter(edges).static_order())
    except CycleError:
        pass
    else:
        raise AssertionError("a circle went unnoticed")
    planted = {
        "compress.infra.errors": "def f():\n    from compress.infra.errors import CompressError\n",
    }
    assert graph(planted)[1] == ["compress.infra.errors:2"]


def test_the_scan_sees_guarded_and_dynamic_imports_that_point_up() -> None:
    """An upward import hidden in a `try`, an `if`, a class body or `importlib` is an edge all the same;
    `if TYPE_CHECKING:` is not."""
    base = {
        "compress.run": "",
        "compress.infra.errors": "",
        "compress.algorithms.kinds": "",
        "compress.algorithms.kinds.a": "",
    }
    for src in (
        "try:\n    from compress.run import main\nexcept ImportError:\n    main = None\n",
        "import sys\nif sys.platform:\n    import compress.run\n",
        "class X:\n    from compress import run\n",
        "import importlib\nrun = importlib.import_module('compress.run')\n",
    ):
        edges, _ = graph(base | {"compress.infra.errors": src})
        assert upward(edges) == ["compress.infra.errors -> compress.run"], src
    typed = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from compress.run import main\n"
    assert not upward(graph(base | {"compress.infra.errors": typed})[0])
    # a package that imports its own modules by walking its __path__ reaches every one of them
    registry = "import importlib, pkgutil\nMODS = [importlib.import_module(f'{__name__}.{m.name}') for m in pkgutil.iter_modules(__path__)]\n"
    edges, _ = graph(base | {"compress.algorithms.kinds": registry})
    assert edges["compress.algorithms.kinds"] == {"compress.algorithms.kinds.a"}
