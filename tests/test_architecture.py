"""The shape of ``coursekit``: rooms on floors, imports only downwards, no circles, small modules.

A *room* is a subpackage of ``coursekit`` (``grading``, ``pipeline``, ...) or
one of its top-level modules (``course``, ``settings``, ...). Each room sits on
a floor (:data:`FLOORS`); a module may import its own room and rooms on lower
floors, or a room beside it on the same floor as long as the rooms stay free of
circles. Every import counts, also one inside a function; an import under
``if TYPE_CHECKING:`` does not (it never runs). ``docs/maintaining.md`` shows
the same plan.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "coursekit"

#: Floor of each room: the foundation at 0, the command line at the top.
FLOORS = {
    "course": 0, "settings": 0, "processes": 0,
    "answers": 1, "grading": 1, "preprocessors": 1,
    "release": 2, "student_env": 2, "classes": 2, "insight": 2,
    "pipeline": 3,
    "__main__": 4, "__init__": 4,
}
#: Longest module (lines), and the modules allowed past it, with the reason.
MAX_LINES = 500
LONGER = {}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path) -> set[str]:
    """The ``coursekit`` modules that ``module`` imports (anywhere but under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    known = _modules()
    out = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from package import submodule`` imports the submodule; any other name, the module itself
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                     for a in node.names]
        for name in names:
            if name.startswith("coursekit"):
                while name not in known and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in known and name != module:
                    out.add(name)
    return out


def room_graph() -> dict[str, set[str]]:
    """room -> the other rooms it imports."""
    graph: dict[str, set[str]] = {}
    for module, path in _modules().items():
        room = _room(module)
        graph.setdefault(room, set())
        for dep in imports_of(module, path):
            if dep != "coursekit" and _room(dep) != room:
                graph[room].add(_room(dep))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_every_room_has_a_floor():
    assert set(room_graph()) <= set(FLOORS), set(room_graph()) - set(FLOORS)


def test_no_import_runs_up_a_floor():
    upward = [f"{module} imports {dep}" for module, path in _modules().items() for dep in imports_of(module, path)
              if dep != "coursekit" and FLOORS[_room(dep)] > FLOORS[_room(module)]]
    assert not upward, upward


def test_the_rooms_have_no_circle():
    assert _cycle(room_graph()) == []


def test_the_modules_have_no_circle():
    graph = {m: imports_of(m, p) - {"coursekit"} for m, p in _modules().items()}
    assert _cycle(graph) == []


def test_no_module_is_longer_than_the_limit():
    long = {m: n for m, p in _modules().items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert set(long) <= set(LONGER), {m: n for m, n in long.items() if m not in LONGER}


def test_the_checks_can_fail():
    """The cycle finder finds a circle, and the import reader sees imports inside functions."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []
    assert "coursekit.insight.class_report" in imports_of(
        "coursekit.pipeline.phases", PACKAGE / "pipeline" / "phases.py")


@pytest.mark.parametrize("pattern", ["tests", "sys.path"])
def test_no_shipped_module_reads_the_tests(pattern):
    """The answer tables are a package module; nothing shipped names ``tests`` or adds to ``sys.path``."""
    offenders = []
    for module, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == pattern and pattern == "tests":
                offenders.append(module)
            if pattern == "sys.path" and isinstance(node, ast.Call) and ast.unparse(node.func) in (
                    "sys.path.insert", "sys.path.append", "sys.path.extend"):
                offenders.append(module)
    assert not offenders, offenders
