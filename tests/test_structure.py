"""The package's layout rules, checked on its source: methods found by file name, no method
importing another, no import cycle, a small top level."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from ff_algos import registry

PACKAGE = Path(__file__).resolve().parents[1] / "ff_algos"
METHODS = PACKAGE / "methods"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every ``ff_algos`` module ``path`` imports, at module level or inside a function (an
    ``from X import name`` counts as X.name when that is a module, else X)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("ff_algos"))
        elif (
            isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ff_algos")
        ):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if _is_module(sub) else node.module)
    return found


def _is_module(name: str) -> bool:
    base = PACKAGE.parent.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _graph() -> dict[str, set[str]]:
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_method_module_defines_a_method_named_after_it() -> None:
    files = sorted(p.stem for p in METHODS.glob("*.py") if not p.stem.startswith("_"))
    assert files == sorted(registry.builtin())
    for name in files:
        method = importlib.import_module(f"ff_algos.methods.{name}").METHOD
        assert method.name == name


def test_no_method_imports_another_method() -> None:
    methods = {f"ff_algos.methods.{p.stem}" for p in METHODS.glob("*.py")} - {
        "ff_algos.methods.__init__"
    }
    graph = _graph()
    for module in sorted(methods):
        assert not graph[module] & (methods - {module}), module
    for module, deps in graph.items():  # shared pieces import no method either
        if module.startswith("ff_algos.methods.common"):
            assert not deps & methods, module


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph.get(module, set())):
            # importing a submodule imports its packages first: follow them too
            chain = [dep.rsplit(".", k)[0] for k in range(dep.count("."), -1, -1)]
            for step in chain:
                if step not in graph or module == step or module.startswith(step + "."):
                    continue  # a package's own modules import under it while it loads
                if state.get(step) == 1:
                    cycle = [*path[path.index(step) :], step] if step in path else [module, step]
                    pytest.fail("import cycle: " + " -> ".join(cycle))
                if step not in state:
                    visit(step, [*path, step])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_top_level_is_small() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 12, modules


def test_no_module_of_a_subpackage_shares_a_top_level_modules_name() -> None:
    """``sweep/record.py`` beside ``record.py`` read as one thing and were two; a package's own
    ``cli.py`` and ``errors.py`` are the convention, not a clash."""
    top = {p.stem for p in PACKAGE.glob("*.py")}
    shared = {
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*/*.py")
        if p.stem in top and p.stem not in {"__init__", "__main__", "cli", "errors"}
    }
    assert shared == set()
