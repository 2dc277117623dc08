"""The architecture, written down as a test: layers, import direction, no cycles, small classes.

Every import in ``ledger/`` and ``api/`` is read with ``ast`` — imports inside functions count;
only ``if TYPE_CHECKING:`` blocks are exempt (they never run). The layers, bottom up::

    errors ← core ← audit ← attest ← interop ← service ← {cli, api}
             core ← store ← service
             core ← client ← {cli, api}

``cli`` is the only part of ``ledger`` that may import ``api``; ``api`` goes through the service
facade (never the store, not even as ``ledger.store``); its routes import shared code from
``api.deps`` (and ``api.views``) and never each other, and the console (``api.console``) reads
through ``api.views``, never a route. The pure layers (``core``, and ``audit`` built on it) do no
I/O and read no clock. Nothing guesses a value's type with ``hasattr``, and only the package
root imports dynamically (its lazy documented surface), so every import is seen here.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "api")

#: layer -> the layers it may import (itself included)
ALLOWED: dict[str, frozenset[str]] = {
    "errors": frozenset({"errors"}),
    "core": frozenset({"core", "errors"}),
    "audit": frozenset({"audit", "core", "errors"}),
    "attest": frozenset({"attest", "audit", "core", "errors"}),
    "interop": frozenset({"interop", "attest", "audit", "core", "errors"}),
    "store": frozenset({"store", "core", "errors"}),
    "service": frozenset({"service", "interop", "attest", "audit", "store", "core", "errors"}),
    "client": frozenset({"client", "core", "errors"}),
    # the C2SP tlog-witness: its own store and HTTP app, on the pure checkpoint code only
    "witness": frozenset({"witness", "core", "errors"}),
    # the log monitor: reads the log through the SDK, checks with the pure code
    "monitor": frozenset({"monitor", "client", "core", "errors"}),
    "cli": frozenset(
        {
            "cli",
            "witness",
            "monitor",
            "api",
            "service",
            "client",
            "interop",
            "attest",
            "audit",
            "store",
            "core",
            "errors",
        }
    ),
    "api": frozenset({"api", "service", "client", "interop", "attest", "audit", "core", "errors"}),
    "root": frozenset(
        {"service", "client", "interop", "attest", "audit", "store", "core", "errors", "cli"}
    ),
}

#: modules the pure layers may not import: I/O, threads, processes, the clock, SQL and HTTP
IMPURE = frozenset(
    {
        "alembic",
        "asyncio",
        "concurrent",
        "fastapi",
        "gc",
        "http",
        "httpx",
        "importlib",
        "io",
        "multiprocessing",
        "os",
        "pathlib",
        "psycopg",
        "queue",
        "reportlab",
        "selectors",
        "shutil",
        "signal",
        "socket",
        "sqlalchemy",
        "sqlite3",
        "sqlmodel",
        "starlette",
        "subprocess",
        "tempfile",
        "threading",
        "time",
        "typer",
        "urllib",
        "uvicorn",
    }
)
PURE_LAYERS = ("core", "audit", "interop")
#: the only impure imports a pure layer may make, each for a reason
PURE_EXCEPTIONS = {("ledger.core.gc", "gc"): "pausing the collector is no I/O, clock or thread"}
#: calls the pure layers may not make: files and the clock
IMPURE_CALLS = frozenset({"open", "now", "utcnow", "today", "time", "monotonic", "perf_counter"})
#: the SDK stays small: no database, web framework or PDF stack
CLIENT_FORBIDDEN = frozenset(
    {"alembic", "fastapi", "psycopg", "reportlab", "sqlalchemy", "sqlmodel", "starlette"}
)
MAX_CLASS_LINES = 300


@dataclass(frozen=True)
class Import:
    target: str  # the module imported (dotted)
    line: int


class Tree:
    """The modules of ``ledger/`` and ``api/`` under ``root`` and their imports."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: dict[str, Path] = {}
        for pkg in PACKAGES:
            for path in sorted((root / pkg).rglob("*.py")):
                rel = path.relative_to(root)
                if "migrations" in rel.parts:
                    continue
                parts = list(rel.with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                self.modules[".".join(parts)] = path
        self._imports: dict[str, tuple[Import, ...]] = {}

    def is_package(self, name: str) -> bool:
        return self.modules.get(name, Path()).name == "__init__.py"

    def resolve(self, module: str, level: int, base: str | None) -> str:
        """The absolute name of ``from <level dots><base> import ...`` in ``module``."""
        if level == 0:
            return base or ""
        pkg = module if self.is_package(module) else module.rpartition(".")[0]
        for _ in range(level - 1):
            pkg = pkg.rpartition(".")[0]
        return f"{pkg}.{base}" if base else pkg

    def imports_of(self, module: str) -> tuple[Import, ...]:
        if module not in self._imports:
            path = self.modules[module]
            tree = ast.parse(path.read_text(), str(path))
            skip = _type_checking_lines(tree)
            out: list[Import] = []
            for node in ast.walk(tree):
                if getattr(node, "lineno", None) in skip:
                    continue
                if isinstance(node, ast.Import):
                    out.extend(Import(alias.name, node.lineno) for alias in node.names)
                elif isinstance(node, ast.ImportFrom):
                    base = self.resolve(module, node.level, node.module)
                    for alias in node.names:
                        sub = f"{base}.{alias.name}"
                        out.append(Import(sub if sub in self.modules else base, node.lineno))
            self._imports[module] = tuple(out)
        return self._imports[module]


TREE = Tree(ROOT)
MODULES = TREE.modules


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for child in node.body:
                    lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "api":
        return "api"
    if parts[0] != "ledger":
        return None
    if len(parts) == 1 or parts[1] == "__main__":
        return "root"
    return parts[1]


def _internal(imp: Import) -> str | None:
    """The project module an import names (None for the standard library and third parties)."""
    top = imp.target.split(".")[0]
    return imp.target if top in PACKAGES else None


def violations(tree: Tree) -> Iterator[str]:
    """Every import against the layers, with its file and line."""
    for module, path in tree.modules.items():
        layer = layer_of(module)
        assert layer in ALLOWED, f"{module}: no layer {layer!r}; add it to ALLOWED"
        where = path.relative_to(tree.root)
        for imp in tree.imports_of(module):
            target = _internal(imp)
            top = imp.target.split(".")[0]
            if layer in PURE_LAYERS and top in IMPURE and (module, top) not in PURE_EXCEPTIONS:
                yield f"{where}:{imp.line}: the pure layer {layer} imports {imp.target}"
            if layer == "client" and top in CLIENT_FORBIDDEN:
                yield f"{where}:{imp.line}: the SDK imports {imp.target}"
            if target is None:
                continue
            if target == "ledger" and layer != "root":
                yield f"{where}:{imp.line}: imports the package root `ledger`; import the module"
                continue
            other = layer_of(target)
            if other not in ALLOWED[layer]:
                yield f"{where}:{imp.line}: {layer} may not import {other} ({target})"
            if module.startswith("api.routes.") and (
                target.startswith("api.routes.") or target == "api.app"
            ):
                yield f"{where}:{imp.line}: a route imports {target}; share it through api.deps"
            if module.startswith("api.console.") and (
                target.startswith("api.routes.") or target == "api.app"
            ):
                # the console reads what the API reads through api.views, never a route
                yield f"{where}:{imp.line}: the console imports {target}; share it via api.views"


def test_imports_point_downward() -> None:
    assert list(violations(TREE)) == []


def _calls(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            fn = node.func
            name = fn.id if isinstance(fn, ast.Name) else getattr(fn, "attr", None)
            if name:
                yield node.lineno, name


def test_no_type_guessing_and_no_dynamic_imports() -> None:
    found = []
    for module, path in MODULES.items():
        for line, name in _calls(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if name == "hasattr":
                found.append(f"{where}: guesses a type with hasattr; type it (a Protocol)")
            if name in ("import_module", "__import__") and layer_of(module) != "root":
                found.append(f"{where}: a dynamic import the layer checks cannot see")
    assert found == []


def test_the_api_reaches_the_database_only_through_the_facade() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno}: uses .store; add a Ledger method instead"
        for module, path in MODULES.items()
        if layer_of(module) == "api"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]
    assert found == []


def test_pure_layers_read_no_files_and_no_clock() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: calls {name}()"
        for module, path in MODULES.items()
        if layer_of(module) in PURE_LAYERS
        for line, name in _calls(path)
        if name in IMPURE_CALLS
    ]
    assert found == []


def cycles(tree: Tree) -> list[list[str]]:
    """Every set of modules that import each other (strongly connected components)."""
    graph = {
        m: sorted(
            {t for imp in tree.imports_of(m) if (t := _internal(imp)) in tree.modules and t != m}
        )
        for m in tree.modules
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles() -> None:
    assert cycles(TREE) == []


def test_no_class_over_300_lines() -> None:
    big = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_CLASS_LINES:
                    big.append(f"{path.relative_to(ROOT)}: {node.name} has {lines} lines")
    assert big == []


def _public(module: str) -> bool:
    return not any(part.startswith("_") for part in module.split(".")) and module != "api.app"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _public(m)))
def test_public_modules_declare_all(module: str) -> None:
    tree = ast.parse(MODULES[module].read_text())
    declared = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and any(
            isinstance(t, ast.Name) and t.id == "__all__"
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
        )
    ]
    assert declared, f"{module} has no __all__"
    names = ast.literal_eval(declared[0]) if declared[0] is not None else []
    defined = _top_level_names(tree)
    missing = [n for n in names if n not in defined]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    if any(
        isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body
    ):  # a lazy package root: its names come from _SURFACE
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_SURFACE" for t in node.targets
            ):
                names.update(ast.literal_eval(node.value))
    return names


def test_the_checker_finds_cycles_and_upward_imports(tmp_path: Path) -> None:
    """The checker itself, on a throwaway tree with one of each fault."""
    files = {
        "ledger/__init__.py": "",
        "ledger/errors.py": "",
        "ledger/core/__init__.py": "",
        "ledger/core/a.py": "def f():\n    from . import b\n",  # inside a function: counts
        "ledger/core/b.py": "from .a import f\nfrom ..service import x\n",
        "ledger/core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
        "    from ..service import x\n",  # exempt
        "ledger/service/__init__.py": "x = 1\n",
        "api/__init__.py": "",
        "api/deps.py": "",
        "api/routes/__init__.py": "",
        "api/routes/one.py": "from . import two\nfrom ledger.store import sql\n",
        "api/routes/two.py": "from ..deps import *\n",
        "ledger/store/__init__.py": "",
        "ledger/store/sql.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    tree = Tree(tmp_path)
    assert cycles(tree) == [["ledger.core.a", "ledger.core.b"]]
    found = list(violations(tree))
    assert any("b.py:2: core may not import service" in v for v in found), found
    assert any("one.py:1: a route imports api.routes.two" in v for v in found), found
    assert any("one.py:2: api may not import store" in v for v in found), found
    assert not any("c.py" in v for v in found), found
