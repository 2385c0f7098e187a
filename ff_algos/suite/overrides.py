"""Recipe fields set from strings: what ``--set FIELD=VALUE`` and ``--grid`` parse through."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from ff_algos.errors import RecipeError
from ff_algos.method import recipe_fields


def apply_overrides(recipe: Any, overrides: dict[str, str], known: set[str] | None = None) -> Any:
    """A copy of ``recipe`` with fields set from strings (``"500,500"``, ``"none"``, ``"0.01"``).

    Fields the recipe does not have are errors unless they are in ``known`` (fields of the other
    methods in the session, so one ``--set`` list can serve them all); values that do not parse
    are always errors.
    """
    hints = typing.get_type_hints(type(recipe))
    known_anywhere = set(recipe_fields(recipe)) | (known or set())
    changes: dict[str, Any] = {}
    for key, text in overrides.items():
        if key not in recipe_fields(recipe):
            if key in known_anywhere:
                continue
            raise RecipeError(
                f"unknown recipe field {key!r}; valid fields: {', '.join(sorted(known_anywhere))}"
            )
        try:
            changes[key] = _parse(text, hints[key])
        except ValueError as exc:
            raise RecipeError(f"bad value for {key}: {text!r} ({exc})") from None
    return dataclasses.replace(recipe, **changes)


def _parse(text: str, hint: Any) -> Any:
    """Parse ``text`` as a value of the annotated type ``hint``."""
    origin = get_origin(hint)
    args = get_args(hint)
    if origin in (Union, types.UnionType):
        if type(None) in args and text.strip().lower() in ("none", "null", "full", ""):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(text, inner[0])
    if origin is Literal:
        if text not in args:
            raise ValueError(f"expected one of {', '.join(map(str, args))}")
        return text
    if origin is tuple:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        if not parts:
            raise ValueError("expected comma-separated integers, e.g. 500,500")
        return tuple(_parse(p, args[0]) for p in parts)
    if hint is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return lowered in ("true", "1", "yes")
    if hint is int:
        value = int(text)
        if value < 0:
            raise ValueError("expected a non-negative integer")
        return value
    if hint is float:
        return float(text)
    if hint is str:
        return text
    raise ValueError(f"cannot parse type {hint}")
