"""The suite's option parsing, floors file and journal, without running any case."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from ff_algos.methods.common.overlay import FFRecipe
from ff_algos.suite.floors import FloorsError, load_floors
from ff_algos.suite.journal import append_record, read_journal
from ff_algos.suite.options import OptionError, _check_rows, parse_options

FLOORS = Path(__file__).resolve().parents[1] / "bench" / "floors.toml"


def _parse(**changes: Any) -> Any:
    return parse_options({"methods": "ff,bp", "journal": "j.jsonl"} | changes)


def test_defaults_cover_every_dataset_and_both_methods() -> None:
    opts = _parse()
    assert opts.datasets == ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn")
    assert not opts.datasets_explicit
    assert opts.methods == ("ff", "bp")


def test_default_methods_are_every_registered_method_with_the_recipe() -> None:
    from ff_algos import registry

    opts = _parse(methods=None)
    assert opts.methods == registry.names()[: len(opts.methods)]
    assert {"ff", "bp", "ff_head", "ff_finetune"} <= set(opts.methods)


def test_journal_under_a_file_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OptionError, match="is a file, so the folder cannot be made"):
        _parse(journal=str(blocker / "sub" / "j.jsonl"))


def test_tf32_and_cudagraphs_are_refused_on_a_cpu() -> None:
    import torch

    opts = _parse(sets=["precision=tf32"])
    with pytest.raises(OptionError, match="precision=tf32 needs a CUDA device"):
        opts.check_device(torch.device("cpu"))
    opts = _parse(sets=["compile=cudagraphs"])
    with pytest.raises(OptionError, match="compile=cudagraphs needs a CUDA device"):
        opts.check_device(torch.device("cpu"))


def test_aliases_are_canonicalised_and_deduplicated() -> None:
    opts = _parse(datasets="MNIST, mnist,FashionMNIST")
    assert opts.datasets == ("mnist", "fashion_mnist")
    assert opts.datasets_explicit


def test_overrides_and_seeds_reach_the_recipe() -> None:
    opts = _parse(sets=["epochs=7", "hidden=32,16", "batch_size=none", "seed=10"], seeds="3")
    ff = opts.recipe("ff", 2)
    assert isinstance(ff, FFRecipe)
    assert (ff.epochs, ff.hidden, ff.batch_size, ff.seed) == (7, (32, 16), None, 12)
    assert opts.overridden == ("epochs", "hidden", "batch_size")


def test_a_field_of_the_other_method_is_accepted() -> None:
    opts = _parse(sets=["threshold=3.0"])  # FF only; bp recipes ignore it
    assert opts.recipe("bp", 0).epochs > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recipe": "nope"}, "--recipe 'nope' is unknown; choose one of: seed, quick, tiny, "),
        ({"datasets": "imagenet"}, "--datasets: unknown dataset 'imagenet'; choose from: mnist, "),
        ({"methods": "ff,sgd"}, "--methods: unknown method 'sgd'; choose from: bp, bp_attn"),
        ({"device": "tpu"}, "--device 'tpu' is not valid; use auto, cpu, cuda or cuda:N"),
        ({"sets": ["bogus=1"]}, "--set: unknown recipe field 'bogus'; valid fields: "),
        ({"sets": ["epochs=ten"]}, "--set: bad value for epochs: 'ten'"),
        (
            {"sets": ["goodness=max"]},
            "--set: bad value for goodness: 'max' (expected one of mean, sum)",
        ),
        ({"sets": ["epochs"]}, "--set 'epochs': expected FIELD=VALUE"),
        ({"seeds": "0"}, "--seeds '0': expected a whole number of at least 1"),
        ({"rounds": "x"}, "--rounds 'x': expected a whole number of at least 1"),
        ({"sets": ["epochs=0"]}, "--set: epochs=0 trains nothing; use epochs=1 or more"),
        (
            {"sets": ["head_epochs=0"], "methods": "ff_head"},
            "--set: head_epochs=0 trains nothing; use head_epochs=1 or more",
        ),
        ({"sets": ["precision=fp16"]}, "--set: bad value for precision: 'fp16'"),
        ({"methods": "ff_head", "recipe": "nope"}, "--recipe 'nope' is unknown"),
        ({"journal": "."}, "--journal . is a folder; give a file path"),
        ({"method_modules": ("no_such_module",)}, "--method-module 'no_such_module' cannot be"),
    ],
)
def test_bad_values_name_the_valid_choices(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(OptionError) as info:
        _parse(**changes)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_shipped_floors_cover_the_seed_and_quick_recipes() -> None:
    floors = load_floors(FLOORS)
    for dataset in ("mnist", "fashion_mnist", "cifar10", "cifar100", "svhn"):
        for method in ("ff", "bp"):
            assert floors.lookup("seed", dataset, method, ()).value is not None
    for dataset in ("mnist", "fashion_mnist"):
        for method in ("ff", "bp"):
            assert floors.lookup("quick", dataset, method, ()).value is not None
    overridden = floors.lookup("seed", "mnist", "ff", ("epochs",))
    assert overridden.value is None
    assert overridden.reason == "recipe fields overridden (epochs)"


def test_floor_check() -> None:
    floor = load_floors(FLOORS).lookup("seed", "mnist", "bp", ())
    assert floor.value is not None
    assert floor.check(floor.value) is True
    assert floor.check(floor.value - 0.001) is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[seed.mnist]\nff = 1.5\n", "seed.mnist.ff = 1.5 is not a number in [0, 1]"),
        ("[seed]\nmnist = 3\n", "[seed.mnist] must map methods to floors"),
        ("not toml [", "is not valid TOML"),
    ],
)
def test_malformed_floors_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "floors.toml"
    path.write_text(text)
    with pytest.raises(FloorsError, match=message.replace("[", r"\[").replace(".", r"\.")):
        load_floors(path)


def test_missing_floors_file(tmp_path: Path) -> None:
    with pytest.raises(FloorsError, match="does not exist; pass --floors PATH"):
        load_floors(tmp_path / "nope.toml")


def test_journal_appends_and_skips_a_torn_last_line(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "journal.jsonl"
    append_record(path, {"case": 1})
    append_record(path, {"case": 2})
    with path.open("a") as fh:
        fh.write('{"case": 3, "trunc')  # a crash mid-write
    assert read_journal(path) == [{"case": 1}, {"case": 2}]
    append_record(path, {"case": 4})  # earlier lines are never rewritten
    assert path.read_text().startswith('{"case": 1}\n{"case": 2}\n')
    assert os.path.getsize(path) > 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"sets": ["train_size=60001"]},
            "--set: train_size=60001 but mnist has 60000 training rows; use 1..60000 or none (all)",
        ),
        ({"sets": ["train_size=0"]}, "--set: train_size=0 but mnist has 60000 training rows"),
        (
            {"grids": ("train_size=100/50001",), "datasets": "mnist,cifar10"},
            "--grid: train_size=50001 but cifar10 has 50000 training rows; use 1..50000",
        ),
        (
            {"val_size": "60000"},
            "--val-size 60000: mnist has 60000 training rows; use 1..59999, 0 or auto",
        ),
        (
            {"val_size": "50001", "sets": ["train_size=none"]},
            "--val-size 50001: cifar10 has 50000 training rows; use 1..49999",
        ),
        (
            {"val_size": "5001", "sets": ["train_size=55000"]},
            "--val-size 5001: train_size=55000 leaves 5000 of mnist's 60000 training rows for "
            "validation; use --val-size 5000 or less, or a smaller train_size",
        ),
        (
            {"val_size": "55000"},  # the quick recipe trains on 10000 rows
            "--val-size 55000: train_size=10000 leaves 50000 of",
        ),
    ],
)
def test_rows_a_split_cannot_hold_are_usage_errors(changes: dict[str, Any], message: str) -> None:
    # fitting would refuse each of these case by case (methods.training_rows, validation_split)
    with pytest.raises(OptionError) as info:
        _parse(**({"datasets": "mnist,cifar10"} | changes))
    assert str(info.value).startswith(message)


@pytest.mark.parametrize(
    "changes",
    [
        {"sets": ["train_size=60000"]},
        {"sets": ["train_size=none"], "val_size": "59999"},
        {"sets": ["train_size=55000"], "val_size": "5000"},
        {"sets": ["train_size=60000"], "val_size": "0"},
        {"sets": ["train_size=60000"], "val_size": "auto"},
    ],
)
def test_rows_the_split_holds_are_accepted(changes: dict[str, Any]) -> None:
    assert _parse(datasets="mnist", **changes).datasets == ("mnist",)


def test_the_early_row_check_agrees_with_fitting() -> None:
    """The split sizes the check reads (DatasetInfo, no data loaded) decide as fitting does."""
    import torch

    from ff_algos import registry
    from ff_algos.data import LoadedDataset, Split, dataset_info
    from ff_algos.errors import RecipeError
    from ff_algos.fitting import training_rows, validation_split

    info = dataclasses.replace(dataset_info("mnist"), train_size=40)
    data = LoadedDataset(
        info=info,
        train=Split(torch.zeros(40, 784), torch.arange(40) % 10),
        test=Split(torch.zeros(10, 784), torch.arange(10)),
        root=Path("."),
        load_seconds=0.0,
        source="decoded",
    )
    for train_size in (None, 0, 1, 30, 35, 40, 41):
        for val_size in (None, 0, 1, 5, 10, 39, 40):
            recipe = dataclasses.replace(registry.recipe("ff", "tiny"), train_size=train_size)
            try:
                fit_data, _, _ = validation_split(recipe, data, val_size)
                training_rows(recipe, fit_data)
                fits = True
            except RecipeError:
                fits = False
            try:
                _check_rows(recipe, info, val_size, ())
                early = True
            except OptionError:
                early = False
            assert early == fits, (train_size, val_size)
