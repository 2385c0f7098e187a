"""Method names to :class:`~ff_algos.method.Method` objects: the one list the suite reads.

Built-in methods are the modules of :mod:`ff_algos.methods`, one per method, named after it,
each defining ``METHOD`` (:func:`builtin` lists them; each is imported on first use). Methods
from outside the package join in two ways, without a fork:

* a Python entry point in the group ``ff_bench.methods`` (``name = "pkg.module:METHOD"``) in the
  installed distribution's metadata; or
* ``pytest bench/ --method-module pkg.module`` (repeatable): the module is imported and its
  ``METHOD`` (or every ``Method`` it passed to :func:`register`) joins the registry.

Nothing is imported at import time of this module.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from importlib import metadata
from typing import Any

from ff_algos import methods as methods_package
from ff_algos.errors import RecipeError
from ff_algos.method import METHOD_MEMBERS, Method

ENTRY_POINT_GROUP = "ff_bench.methods"
_added: dict[str, Method[Any]] = {}


@functools.cache
def builtin() -> dict[str, str]:
    """Built-in method names -> modules: every module ``ff_algos/methods/<name>.py`` (not
    ``common/``, nothing starting with ``_``), found without importing any of them."""
    found = pkgutil.iter_modules(methods_package.__path__)
    return {
        m.name: f"{methods_package.__name__}.{m.name}"
        for m in sorted(found, key=lambda m: m.name)
        if not m.ispkg and not m.name.startswith("_")
    }


def register(method: Method[Any]) -> Method[Any]:
    """Add a method from outside the package (returns it, so it can decorate an instance)."""
    missing = [a for a in METHOD_MEMBERS if not hasattr(method, a)]
    if missing:
        raise RecipeError(f"{method!r} is not a Method: it lacks {', '.join(missing)}")
    if method.name in builtin():
        raise RecipeError(f"method name {method.name!r} is built in; register it under another")
    _added[method.name] = method
    return method


def load_module(module: str) -> list[str]:
    """Import ``module`` and register its ``METHOD``; the names it added."""
    before = set(_added)
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:
        raise RecipeError(
            f"--method-module {module!r} cannot be imported ({exc}); "
            "is it on sys.path (pip install -e your package, or PYTHONPATH)?"
        ) from None
    method = getattr(imported, "METHOD", None)
    if method is not None and getattr(method, "name", None) not in _added:
        register(method)
    added = sorted(set(_added) - before)
    if not added and method is None:
        raise RecipeError(
            f"--method-module {module!r} defines no METHOD and registered none; "
            "add METHOD = YourMethod() to it"
        )
    return added


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def names() -> tuple[str, ...]:
    """Every method name: built in, from entry points, then registered."""
    return tuple(dict.fromkeys([*builtin(), *_entry_points(), *_added]))


def get(name: str) -> Method[Any]:
    """The method called ``name``; a one-line error lists the valid names."""
    if name in _added:
        return _added[name]
    if name in builtin():
        method: Method[Any] = importlib.import_module(builtin()[name]).METHOD
        return method
    entry = _entry_points().get(name)
    if entry is not None:
        return register(entry.load())
    raise RecipeError(f"unknown method {name!r}; choose one of: {', '.join(names())}")


def recipe(method: str, recipe_name: str) -> Any:
    """The named recipe of ``method``; a one-line error lists the recipes it has."""
    recipes = get(method).recipes
    if recipe_name not in recipes:
        raise RecipeError(
            f"method {method!r} has no recipe {recipe_name!r}; it has: {', '.join(recipes)}"
        )
    return recipes[recipe_name]


def recipe_names() -> tuple[str, ...]:
    """Every recipe name any registered method has."""
    return tuple(dict.fromkeys(r for n in names() for r in get(n).recipes))
