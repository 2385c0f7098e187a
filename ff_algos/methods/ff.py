"""``ff``: Forward-Forward as the reference study ran it (Hinton 2022; the code of
mpezeshki/pytorch_forward_forward): greedy layer-wise training with the label overlaid on the
input, prediction by the summed goodness of every candidate label.

The algorithm, its fast path and the proof that both compute the same function are in
:mod:`ff_algos.methods.common.overlay`, which the hybrids ``ff_head`` and ``ff_finetune`` train
their FF layers with too; the named recipes (``FF_RECIPES``) live there as well, since each
hybrid's recipes are these FF layers plus a phase of its own.
"""

from __future__ import annotations

from ff_algos.method import RecipeMethod
from ff_algos.methods.common.overlay import FF_RECIPES, check_ff, fit_ff

METHOD = RecipeMethod(
    name="ff",
    description="Forward-Forward, greedy layer-wise, label overlaid (the reference study)",
    recipes=FF_RECIPES,
    check=check_ff,
    train=fit_ff,
)
