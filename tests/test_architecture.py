"""The package's shape: first-party imports at module top, no import circle, layers that only point
down, every module importable.

An AST scan of `compress/`: each module's imports of `compress.*` at module level are its edges
(importing `compress.a.b` also runs `compress/a/__init__.py`); the graph must be acyclic, and no
function may import a first-party module (that hides dependencies and dodges circles). One level up,
each top-level folder (and each top-level module) is a layer: the layers' graph must be acyclic too, so
no folder imports one that imports it back, directly or around a longer loop.
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


def module_name(path: Path) -> str:
    """`compress/a/b.py` -> `compress.a.b`; `compress/a/__init__.py` -> `compress.a`."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(p): p
    for p in sorted(PACKAGE.rglob("*.py"))
    # the Hugging Face `evaluate` modules are loaded by path, not as part of the package
    if "hf" not in p.relative_to(PACKAGE).parts[:-1] or p.name == "__init__.py"
}


def _targets(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The first-party modules an import statement runs (a name imported from a package may be a module)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif node.module:
        names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    else:
        names = []
    return [n for n in names if n in MODULES]


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """Module-level first-party edges of every module, and every function-local first-party import."""
    edges: dict[str, set[str]] = {}
    local: list[str] = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        deps: set[str] = set()
        node: ast.AST
        # top-level statements only: `if TYPE_CHECKING:` imports never run
        for node in tree.body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                deps |= set(_targets(node))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom) and _targets(inner):
                        local.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
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


def layer(module: str) -> str:
    """The layer a module belongs to: its top-level folder (`compress.a.b` -> `a`) or top-level module."""
    parts = module.split(".")
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
        "compress.a.x": {"compress.b.y", "compress.errors"},
        "compress.b.y": {"compress.c.z"},
        "compress.c.z": {"compress.a", "compress.a.w"},
        "compress.a.w": set(),
        "compress.errors": set(),
    }
    layers = layer_graph(edges)
    assert layers["a"] == {"b", "errors"} and layers["c"] == {"a"}
    assert set(layer_cycle(layers) or []) == {"a", "b", "c"}
    edges["compress.c.z"] = {"compress.errors"}
    assert layer_cycle(layer_graph(edges)) is None


def test_the_scan_sees_a_circle_and_a_local_import(tmp_path: Path) -> None:
    """The checks above can fail: a hand-made circle is found, a function-local import is flagged."""
    edges = {"compress.a": {"compress.b"}, "compress.b": {"compress.a"}}
    try:
        list(TopologicalSorter(edges).static_order())
    except CycleError:
        pass
    else:
        raise AssertionError("a circle went unnoticed")
    src = "def f():\n    from compress.errors import CompressError\n"
    node = ast.parse(src).body[0]
    assert isinstance(node, ast.FunctionDef)
    inner = node.body[0]
    assert isinstance(inner, ast.ImportFrom) and _targets(inner) == ["compress.errors"]
