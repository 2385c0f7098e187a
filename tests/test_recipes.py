"""Named recipes, overrides from strings, and the analytic FLOP counts."""

from __future__ import annotations

import dataclasses

import pytest

from ff_algos import registry
from ff_algos.data import dataset_info
from ff_algos.errors import RecipeError
from ff_algos.method import recipe_dict
from ff_algos.methods.bp import BPRecipe
from ff_algos.methods.common.overlay import FFRecipe
from ff_algos.suite.overrides import apply_overrides


def test_seed_recipes_are_the_studys() -> None:
    ff, bp = registry.recipe("ff", "seed"), registry.recipe("bp", "seed")
    assert isinstance(ff, FFRecipe)
    assert isinstance(bp, BPRecipe)
    assert (ff.hidden, ff.epochs, ff.batch_size, ff.lr, ff.threshold) == (
        (500, 500),
        1000,
        None,
        0.03,
        2.0,
    )
    assert (ff.goodness, ff.negatives, ff.train_size) == ("mean", "permute", None)
    assert (bp.hidden, bp.epochs, bp.batch_size, bp.lr, bp.train_size) == (
        (500, 500),
        20,
        256,
        1e-3,
        None,
    )


def test_the_baselines_share_their_recipe_names() -> None:
    ff, bp = registry.get("ff").recipes, registry.get("bp").recipes
    assert set(ff) == set(bp) == {"seed", "quick", "tiny", "matched"}
    for name in ff:
        assert ff[name].name == bp[name].name == name


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(RecipeError, match="method 'ff' has no recipe 'fast'; it has: seed, quick"):
        registry.recipe("ff", "fast")
    with pytest.raises(RecipeError, match="unknown method 'sgd'; choose one of: bp, bp_attn"):
        registry.recipe("sgd", "seed")


def test_overrides_parse_each_field_type() -> None:
    seed = FFRecipe(name="seed")
    ff = apply_overrides(
        seed,
        {"hidden": "64, 32", "batch_size": "None", "lr": "1e-2", "goodness": "sum", "seed": "4"},
    )
    assert ff == dataclasses.replace(seed, hidden=(64, 32), lr=0.01, goodness="sum", seed=4)
    bp = apply_overrides(
        registry.recipe("bp", "seed"), {"input_pipeline": "dataloader", "lr": "0.5"}
    )
    assert isinstance(bp, BPRecipe)
    assert (bp.input_pipeline, bp.lr) == ("dataloader", 0.5)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "-3"}, "bad value for epochs: '-3' (expected a non-negative integer)"),
        ({"hidden": ","}, "bad value for hidden: ','"),
        ({"negatives": "random"}, "expected one of permute, wrong_label"),
        ({"colour": "red"}, "unknown recipe field 'colour'; valid fields: "),
    ],
)
def test_bad_overrides(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(RecipeError) as info:
        apply_overrides(registry.recipe("ff", "seed"), overrides)
    assert message in str(info.value)


def test_ff_flops_count_both_passes_and_the_weight_gradient() -> None:
    recipe = FFRecipe(hidden=(500, 500), epochs=1000)
    flops = recipe.flops(60000, dataset_info("mnist"))
    per_row = 2 * 784 * 500 + 2 * 500 * 500  # multiply-adds x2, both layers
    assert flops.forward == 1000 * 2 * 60000 * per_row  # positive and negative rows
    assert flops.backward == flops.forward  # weight gradients only: inputs are detached
    assert flops.train == 2 * flops.forward
    assert flops.predict_for(10000) == 10000 * 10 * per_row  # every candidate label


def test_bp_flops_include_the_head_and_skip_the_first_input_gradient() -> None:
    recipe = BPRecipe(hidden=(500, 500), epochs=20)
    flops = recipe.flops(60000, dataset_info("mnist"))
    per_row = 2 * (784 * 500 + 500 * 500 + 500 * 10)
    assert flops.forward == 20 * 60000 * per_row
    assert flops.backward == 20 * 60000 * (2 * per_row - 2 * 784 * 500)
    assert flops.predict_for(10000) == 10000 * per_row


def test_recipe_dict_is_json_ready() -> None:
    data = recipe_dict(registry.recipe("ff", "quick"))
    assert data["method"] == "ff"
    assert data["hidden"] == [500, 500]
    assert data["name"] == "quick"
