"""The study's values, dataset spellings, and the like-for-like recipe check."""

from __future__ import annotations

import dataclasses

import pytest

from ff_algos import registry
from ff_algos.method import recipe_dict
from ff_algos.report.study import (
    dataset_label,
    dataset_order,
    match_study_recipe,
    study_accuracy,
)


@pytest.mark.parametrize(
    ("method", "dataset", "train", "test"),
    [
        ("ff", "mnist", 0.932, 0.931),
        ("ff", "fashion_mnist", 0.83, 0.83),
        ("ff", "cifar10", 0.49, 0.46),
        ("ff", "cifar100", 0.13, 0.12),
        ("ff", "svhn", 0.63, 0.60),
        ("bp", "mnist", 0.99, 0.97),
        ("bp", "FashionMNIST", 0.95, 0.89),
        ("bp", "cifar10", 0.93, 0.53),
        ("bp", "cifar100", 0.77, 0.23),
        ("bp", "SVHN", 0.88, 0.81),
    ],
)
def test_study_table_one(method: str, dataset: str, train: float, test: float) -> None:
    value = study_accuracy(method, dataset)
    assert value is not None
    assert (value.train, value.test) == (train, test)


def test_unknown_dataset_or_method_has_no_study_value() -> None:
    assert study_accuracy("ff", "imagenet") is None
    assert study_accuracy("hebbian", "mnist") is None


def test_dataset_spellings_and_order() -> None:
    assert dataset_label("fashion_mnist") == dataset_label("Fashion-MNIST") == "FashionMNIST"
    assert dataset_label("imagenet") == "imagenet"
    names = ["svhn", "imagenet", "mnist", "cifar100", "fashion_mnist", "cifar10"]
    ordered = sorted(names, key=dataset_order)
    assert ordered == ["mnist", "fashion_mnist", "cifar10", "cifar100", "svhn", "imagenet"]


@pytest.mark.parametrize("method", ["ff", "bp"])
def test_seed_recipe_is_like_for_like_even_with_another_seed(method: str) -> None:
    recipe = recipe_dict(registry.recipe(method, "seed"))
    assert match_study_recipe(method, recipe).like_for_like
    assert match_study_recipe(method, {**recipe, "seed": 7}).like_for_like
    text = match_study_recipe(method, recipe).describe("seed")
    assert "like for like" in text
    assert "not" not in text


@pytest.mark.parametrize("method", ["ff", "bp"])
def test_quick_recipe_is_not_like_for_like(method: str) -> None:
    recipe = recipe_dict(registry.recipe(method, "quick"))
    match = match_study_recipe(method, recipe)
    assert not match.like_for_like
    assert any(d.startswith("epochs=") for d in match.differences)
    assert "not like for like" in match.describe("quick")


def test_seed_recipe_with_an_override_is_not_like_for_like() -> None:
    recipe = recipe_dict(dataclasses.replace(registry.recipe("ff", "seed"), epochs=10))
    match = match_study_recipe("ff", recipe)
    assert not match.like_for_like
    assert match.differences == ("epochs=10 (study: 1000)",)
