"""The layout holds: no import cycle between sabaq's modules (imports inside functions
count), and each room imports only the rooms below it (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# room -> rooms it may import (besides itself); the arrows of docs/ARCHITECTURE.md
ALLOWED = {
    "sabaq": set(),
    "sabaq.lessons": {"sabaq", "sabaq.courses"},
    "sabaq.courses": {"sabaq"},
    "sabaq.autograders": {"sabaq"},
    "sabaq.hub.exchange": {"sabaq"},
    "sabaq.hub.store": {"sabaq"},
    "sabaq.hub.domain": {"sabaq", "sabaq.hub.store", "sabaq.lessons", "sabaq.courses"},
    "sabaq.hub.jupyterhub": {"sabaq", "sabaq.hub.store", "sabaq.hub.domain", "sabaq.lessons"},
    "sabaq.hub.service": {"sabaq", "sabaq.hub.store", "sabaq.hub.domain", "sabaq.hub.jupyterhub", "sabaq.lessons"},
    "sabaq.hub": {"sabaq", "sabaq.hub.store", "sabaq.hub.domain", "sabaq.hub.jupyterhub", "sabaq.hub.service",
                  "sabaq.lessons"},
    "sabaq.devtools": {"sabaq", "sabaq.hub.store", "sabaq.hub.domain", "sabaq.hub.service", "sabaq.hub.jupyterhub",
                       "sabaq.autograders", "sabaq.courses", "sabaq.lessons"},
}


def sabaq_modules() -> dict[str, Path]:
    """Every module of the sabaq distribution, from pyproject's package folders."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    dirs = project["tool"]["setuptools"]["package-dir"]
    modules = {}
    for package in project["tool"]["setuptools"]["packages"]:
        root = next(p for p in sorted(dirs, key=len, reverse=True) if package == p or package.startswith(p + "."))
        folder = REPO / dirs[root] / package[len(root):].lstrip(".").replace(".", "/")
        for path in folder.glob("*.py"):
            modules[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return modules


MODULES = sabaq_modules()


def imported(name: str, path: Path) -> set[str]:
    """The sabaq modules a module imports, anywhere in it (functions included)."""
    package = name if path.stem == "__init__" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: imported(name, path) for name, path in MODULES.items()}


def room(module: str) -> str:
    return max((r for r in ALLOWED if module == r or module.startswith(r + ".")), key=len)


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(GRAPH[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_module_list_is_complete():
    """The checks below see every module (a module missing here would be unchecked)."""
    assert "sabaq.hub.service.app" in MODULES and "sabaq.autograders.worker" in MODULES
    on_disk = {p for d in ("core", "hub", "autograders", "lessons", "devtools") for p in (REPO / d).rglob("*.py")}
    assert on_disk == set(MODULES.values()) - {p for p in MODULES.values() if "courses" in p.parts}


def test_no_import_cycle():
    assert cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_arrows(module):
    mine = room(module)
    wrong = sorted(t for t in GRAPH[module] if room(t) != mine and room(t) not in ALLOWED[mine])
    assert wrong == [], f"{module} ({mine}) may not import {wrong}"


def test_the_check_sees_imports_inside_functions(tmp_path):
    """A cycle hidden in a function is still a cycle."""
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from sabaq.hub.service import app\n")
    assert "sabaq.hub.service.app" in imported("sabaq.archive", a)
