"""The import graph of ``pipeline`` and ``playlists`` has no cycle (issue 17).

Every ``import`` and ``from ... import`` in the code counts, at module level or inside a
function (a function-level import only hides a cycle until the function runs).
``from pkg import sub`` where ``sub`` is a submodule counts as an import of ``pkg.sub``
alone; importing a name defined in a package's ``__init__`` counts as an import of the
package. Cycles are found as strongly connected components (Tarjan, 1972).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipeline", "playlists")


def modules() -> dict[str, tuple[Path, bool]]:
    """``{dotted name: (file, is a package)}`` of every module of the packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def _targets(name: str, is_pkg: bool, node: ast.AST, known: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    base = name.split(".") if is_pkg else name.split(".")[:-1]
    if node.level:
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    subs = [f"{prefix}.{a.name}" for a in node.names if f"{prefix}.{a.name}" in known]
    return subs if len(subs) == len(node.names) else [prefix, *subs]


def graph() -> dict[str, set[str]]:
    """``{module: modules of the packages it imports}``."""
    known = modules()
    out: dict[str, set[str]] = {}
    for name, (path, is_pkg) in known.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for target in _targets(name, is_pkg, node, known):
                    while target not in known and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in known and target != name:
                        deps.add(target)
        out[name] = deps
    return out


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return found


def test_the_checker_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_pipeline_or_playlists():
    g = graph()
    assert "playlists.quarter" in g and "playlists.explain" in g["playlists.quarter"]
    found = cycles(g)
    assert not found, "import cycles: " + "; ".join(
        " <-> ".join(f"{m} (imports {sorted(g[m] & set(c))})" for m in c) for c in found)


def test_planning_imports_no_io_module():
    """``playlists/`` is pure planning: it may use ``pipeline.models`` and
    ``pipeline.vocab`` (types and vocabulary), nothing that reads or writes."""
    allowed = {"pipeline.models", "pipeline.vocab", "pipeline"}
    g = graph()
    for name, deps in g.items():
        if name.startswith("playlists"):
            assert {d for d in deps if not d.startswith("playlists")} <= allowed, name
