"""The ``mesh`` package's import graph: no cycles among module-level imports, and every module
imports on its own in a fresh interpreter (a moved or renamed module is caught here)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "mesh"


@dataclass(frozen=True)
class Edge:
    """``source`` imports ``target`` at ``where`` (file:line), at module level."""

    source: str
    target: str
    where: str


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def module_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is imported: not in functions, not under
    ``if TYPE_CHECKING:`` (its ``else`` runs), and those in class bodies, ``try`` and ``with``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from module_level(node.body)
            yield from module_level(node.orelse)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            for block in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
                yield from module_level(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from module_level(node.body)


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def targets(module: str, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """``import mesh.x`` is mesh.x; ``from mesh.x import y`` is mesh.x.y when that is a
    module, else mesh.x."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    base = _base(module, node)
    for alias in node.names:
        yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def import_graph() -> dict[str, list[Edge]]:
    graph: dict[str, list[Edge]] = {name: [] for name in MODULES}
    for name, path in MODULES.items():
        for node in module_level(ast.parse(path.read_text(), filename=str(path)).body):
            for target in targets(name, node):
                if target in MODULES:
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    graph[name].append(Edge(name, target, where))
    return graph


def cycles(graph: dict[str, list[Edge]]) -> list[list[Edge]]:
    """One cycle through each strongly connected component that has one (Tarjan, then a
    shortest way back to the component's first module), as the edges that make it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def visit(v: str) -> None:  # recursion depth is bounded by the ~100 modules
        index[v] = low[v] = len(index)
        stack.append(v)
        for edge in graph[v]:
            w = edge.target
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or any(e.target == v for e in graph[v]):
                components.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return [_cycle_in(graph, min(c), c) for c in components]


def _cycle_in(graph: dict[str, list[Edge]], start: str, component: set[str]) -> list[Edge]:
    """The shortest path of edges from ``start`` back to ``start`` inside ``component``."""
    paths: dict[str, list[Edge]] = {start: []}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for edge in graph[v]:
                if edge.target == start:
                    return [*paths[v], edge]
                if edge.target in component and edge.target not in paths:
                    paths[edge.target] = [*paths[v], edge]
                    nxt.append(edge.target)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")  # a component always has one


def describe(cycle: list[Edge]) -> str:
    modules = " -> ".join([cycle[0].source, *(e.target for e in cycle)])
    return modules + "".join(f"\n    {e.where}: {e.source} imports {e.target}" for e in cycle)


def test_the_graph_sees_module_level_imports_only() -> None:
    graph = import_graph()
    assert len(MODULES) > 50 and "mesh" in MODULES and "mesh.events.subjects" in MODULES
    assert any(graph.values()), "no import between mesh modules found: the parser is broken"
    source = """
import mesh.errors
from mesh.events import subjects, Bus
from . import codec
if TYPE_CHECKING:
    from mesh.flow import flow
try:
    from mesh.types import document
except ImportError:
    pass
def later():
    import mesh.http.app
"""
    found = {t for node in module_level(ast.parse(source).body)
             for t in targets("mesh.events.bus", node)}
    assert found == {"mesh.errors", "mesh.events.subjects", "mesh.events", "mesh.events.codec",
                     "mesh.types.document"}


def test_a_cycle_is_found_and_reported_with_its_imports() -> None:
    def edge(source: str, target: str) -> Edge:
        return Edge(source, target, f"{source}.py:1")

    graph = {"a": [edge("a", "b")], "b": [edge("b", "c"), edge("b", "d")], "c": [edge("c", "a")],
             "d": [], "e": [edge("e", "e")]}
    found = sorted(cycles(graph), key=len)
    assert [[e.source for e in c] for c in found] == [["e"], ["a", "b", "c"]]
    assert describe(found[1]).splitlines() == ["a -> b -> c -> a", "    a.py:1: a imports b",
                                               "    b.py:1: b imports c", "    c.py:1: c imports a"]
    assert cycles({"a": [edge("a", "b")], "b": []}) == []


def test_no_import_cycles_among_mesh_modules() -> None:
    found = cycles(import_graph())
    assert not found, f"{len(found)} import cycle(s) among mesh modules:\n" + "\n".join(
        describe(c) for c in found)


# Each module is imported in a child forked from an interpreter that has imported nothing of
# mesh: a fresh interpreter per module, without paying the start-up once per module.
_IMPORT_EACH = """
import json, os, sys, traceback
failed = {}
for name in json.loads(sys.argv[1]):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            __import__(name)
            code = 0
        except BaseException:
            os.write(w, traceback.format_exc(limit=-3).encode())
            code = 1
        os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        out = pipe.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    if status:
        failed[name] = out or f"exit status {status}"
print(json.dumps(failed))
"""


def import_each(names: list[str]) -> dict[str, str]:
    """Each module name imported in a fresh child: ``{name: traceback}`` of those that fail."""
    proc = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(names)],
                          cwd=ROOT, capture_output=True, text=True, timeout=100, check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_a_module_that_is_gone_is_reported() -> None:
    failed = import_each(["mesh.errors", "mesh.runtime.no_such_module"])
    assert list(failed) == ["mesh.runtime.no_such_module"]
    assert "ModuleNotFoundError" in failed["mesh.runtime.no_such_module"]


def test_every_mesh_module_imports_in_a_fresh_interpreter() -> None:
    failed = import_each(sorted(MODULES))
    assert not failed, "modules that do not import on their own:\n" + "\n".join(
        f"{name}:\n{tb}" for name, tb in failed.items())
