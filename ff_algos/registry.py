"""Method names to :class:`~ff_algos.method.Method` objects: the one list the suite reads.

Built-in methods are listed in :data:`BUILTIN` (name -> module that defines ``METHOD``) and
imported on first use. Methods from outside the package join in two ways, without a fork:

* a Python entry point in the group ``ff_bench.methods`` (``name = "pkg.module:METHOD"``) in the
  installed distribution's metadata; or
* ``pytest bench/ --method-module pkg.module`` (repeatable): the module is imported and its
  ``METHOD`` (or every ``Method`` it passed to :func:`register`) joins the registry.

Nothing is imported at import time of this module.
"""

from __future__ import annotations

import importlib
from importlib import metadata
from typing import Any

from ff_algos.method import Method
from ff_algos.recipes import RecipeError

ENTRY_POINT_GROUP = "ff_bench.methods"
BUILTIN: dict[str, str] = {
    "ff": "ff_algos.ff",
    "bp": "ff_algos.backprop",
    "ff_head": "ff_algos.ff_head",
    "ff_finetune": "ff_algos.ff_finetune",
    "ff_strong": "ff_algos.ff_strong",
    "ff_conv": "ff_algos.ff_conv",
    "bp_conv": "ff_algos.bp_conv",
    "ff_attn": "ff_algos.ff_attn",
    "bp_attn": "ff_algos.bp_attn",
    "ff_group": "ff_algos.ff_group",
    "ff_pipe": "ff_algos.ff_pipe",
    "bp_parallel": "ff_algos.bp_parallel",
}
_REQUIRED = ("name", "description", "recipes", "validate", "fit", "flops", "executed_flops")
_added: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add a method from outside the package (returns it, so it can decorate an instance)."""
    missing = [a for a in (*_REQUIRED, "warm_up_recipe") if not hasattr(method, a)]
    if missing:
        raise RecipeError(f"{method!r} is not a Method: it lacks {', '.join(missing)}")
    if method.name in BUILTIN:
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
    return tuple(dict.fromkeys([*BUILTIN, *_entry_points(), *_added]))


def get(name: str) -> Method:
    """The method called ``name``; a one-line error lists the valid names."""
    if name in _added:
        return _added[name]
    if name in BUILTIN:
        method: Method = importlib.import_module(BUILTIN[name]).METHOD
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
