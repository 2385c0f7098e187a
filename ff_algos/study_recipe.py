"""Whether a recipe is the reference study's: decided when a run is saved and recorded with it,
so that later changes to today's recipes never re-judge old runs.

The study trained a 2x500 MLP with Forward-Forward and with backprop; its recipes are the ``seed``
recipes of the ``ff`` and ``bp`` methods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ff_algos import registry
from ff_algos.method import recipe_dict
from ff_algos.record import CaseRecord, RecipeMatch

STUDY_RECIPE = "seed"
STUDY_METHODS = ("ff", "bp")

# Fields that change how a recipe runs, not what it learns: a recipe that differs from the
# study's only in these is still like for like.
HOW_NOT_WHAT = frozenset(
    {"name", "seed", "nan_check_every", "predict_batch_size", "compile", "loader_workers"}
)


def match_study_recipe(method: str, recipe: Mapping[str, Any]) -> RecipeMatch:
    """Compare a recipe (as saved) with the study's recipe for the same method, field by field
    (fields in :data:`HOW_NOT_WHAT` are ignored)."""
    if method not in STUDY_METHODS:
        return RecipeMatch(False, (f"method {method!r} is not in the study",))
    reference = recipe_dict(registry.recipe(method, STUDY_RECIPE))
    differences: list[str] = []
    for field in sorted(set(reference) | set(recipe)):
        if field in HOW_NOT_WHAT:
            continue
        wanted = reference.get(field)
        measured = recipe.get(field, wanted)  # older runs lack newer fields (precision: fp32)
        if _normal(measured) != _normal(wanted):
            differences.append(f"{field}={_show(measured)} (study: {_show(wanted)})")
    return RecipeMatch(not differences, tuple(differences))


UNVERIFIED_DATA = "data=unverified files (--allow-unverified; study: the published files)"


def like_the_study(recipe: Any, checked: str | None = None) -> RecipeMatch:
    """Whether a recipe, on data whose files were ``checked`` (``"unverified"``: not the
    published ones), is the study's, decided now (saved with the case as ``study``)."""
    return _on_data(match_study_recipe(recipe.method, recipe_dict(recipe)), checked)


def recorded_match(record: CaseRecord) -> RecipeMatch:
    """The judgement saved with a case; judged now only for runs saved before it was recorded.
    A case trained on unverified files is never like for like, whatever was saved."""
    match = record.study or match_study_recipe(record.method, record.recipe)
    return _on_data(match, record.data.checked)


def _on_data(match: RecipeMatch, checked: str | None) -> RecipeMatch:
    if checked != "unverified" or UNVERIFIED_DATA in match.differences:
        return match
    return RecipeMatch(False, (*match.differences, UNVERIFIED_DATA))


def _normal(value: Any) -> Any:
    """Tuples and lists compare equal (JSON turns tuples into lists)."""
    return list(value) if isinstance(value, tuple | list) else value


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value)
