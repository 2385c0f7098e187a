"""The reference study's Table 1 accuracies, dataset and method display names, and whether a
measured recipe is the one the study used.

The study trained a 2x500 MLP with Forward-Forward and with backprop; its values correspond to
ff-bench's ``seed`` recipe. Accuracies are fractions (0.932 is 93.2 %). Datasets are named and
ordered as the data registry has them (``DATASETS``, spelled as torchvision does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ff_algos.data import DATASETS, dataset_info
from ff_algos.record import RecipeMatch
from ff_algos.study_recipe import match_study_recipe, recorded_match

__all__ = [
    "STUDY",
    "RecipeMatch",
    "StudyAccuracy",
    "dataset_label",
    "match_study_recipe",
    "method_label",
    "recorded_match",
    "study_accuracy",
]


@dataclass(frozen=True)
class StudyAccuracy:
    """Train and test accuracy reported by the study (fractions)."""

    train: float
    test: float


def dataset_key(name: str) -> str:
    """Spelling-independent key of a dataset name: ``fashion_mnist`` -> ``fashionmnist``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_DATASET_LABELS = {dataset_key(n): dataset_info(n).torchvision_name for n in DATASETS}
_DATASET_ORDER = tuple(_DATASET_LABELS)

STUDY: dict[str, dict[str, StudyAccuracy]] = {
    "ff": {
        "mnist": StudyAccuracy(0.932, 0.931),
        "fashionmnist": StudyAccuracy(0.83, 0.83),
        "cifar10": StudyAccuracy(0.49, 0.46),
        "cifar100": StudyAccuracy(0.13, 0.12),
        "svhn": StudyAccuracy(0.63, 0.60),
    },
    "bp": {
        "mnist": StudyAccuracy(0.99, 0.97),
        "fashionmnist": StudyAccuracy(0.95, 0.89),
        "cifar10": StudyAccuracy(0.93, 0.53),
        "cifar100": StudyAccuracy(0.77, 0.23),
        "svhn": StudyAccuracy(0.88, 0.81),
    },
}

_METHOD_LABELS = {"ff": "FF", "bp": "backprop"}


def dataset_label(name: str) -> str:
    """The study's spelling of a dataset (``FashionMNIST``); unknown names are returned as is."""
    return _DATASET_LABELS.get(dataset_key(name), name)


def dataset_order(name: str) -> int:
    """Position of a dataset in the study's table; unknown datasets come after the known ones."""
    key = dataset_key(name)
    return _DATASET_ORDER.index(key) if key in _DATASET_ORDER else len(_DATASET_ORDER)


def method_label(method: str) -> str:
    """``FF`` or ``backprop``; unknown methods are returned as is."""
    return _METHOD_LABELS.get(method, method)


def study_accuracy(method: str, dataset: str) -> StudyAccuracy | None:
    """The study's accuracy for a method and dataset, None where the study has none."""
    return STUDY.get(method, {}).get(dataset_key(dataset))
