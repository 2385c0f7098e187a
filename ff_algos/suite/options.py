"""The benchmark suite's options, parsed from command-line strings into one frozen value.

``bench/conftest.py`` and ``ff-bench sweep`` register the options :mod:`ff_algos.suite.flags`
declares and hand their raw strings here; every unknown name or malformed value becomes an
:class:`OptionError` whose one line lists the valid choices (pytest shows it as a usage error),
before any case runs.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ff_algos import registry
from ff_algos.data import DATASETS, DatasetInfo, UnknownDatasetError, dataset_info
from ff_algos.errors import FFBenchError
from ff_algos.method import recipe_fields
from ff_algos.methods.common.compiled import check_compile
from ff_algos.methods.common.precision import check_precision
from ff_algos.suite.errors import OptionError
from ff_algos.suite.flags import SUITE_FLAGS
from ff_algos.suite.grid import CONFIRM_OVER, GridAxis, Point, parse_grid, points
from ff_algos.suite.overrides import apply_overrides
from ff_algos.suite.shard import Shard, parse_shard

__all__ = ["OptionError", "SuiteOptions", "parse_options", "resolve_device"]

# A session that names no --methods runs this first look: the study's question (FF against
# backprop) and the strongest FF, on the two datasets a fresh checkout fetches; `--methods all`
# runs the whole matrix. Methods without the session's recipe are left out of it.
FIRST_LOOK_METHODS = ("ff", "bp", "ff_group")
FIRST_LOOK_DATASETS = ("mnist", "fashion_mnist")
ALL_METHODS = "all"
EXECUTION_FIELDS = ("seed", "precision", "compile")  # --set fields that keep the floors
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class SuiteOptions:
    """What one ``pytest bench/`` session runs."""

    recipe_name: str
    datasets: tuple[str, ...]
    datasets_explicit: bool  # named by the user: absent data fails instead of skipping
    methods: tuple[str, ...]
    device: str  # "auto", "cpu", "cuda" or "cuda:N"; resolved by resolve_device()
    data_root: Path | None
    seeds: int
    overrides: tuple[tuple[str, str], ...]
    rounds: int
    journal: Path
    floors: Path | None  # None: the reviewed floors shipped with the package
    grid: tuple[GridAxis, ...] = ()  # --grid FIELD=V1/V2/...: one case per grid point
    shard: Shard | None = None  # --shard K/N: this session runs only that slice of the cases
    curve_points: int = 4  # --curve-points: learning-curve points per phase (0: none)
    val_size: int | None = None  # --val-size: validation rows (None: auto)
    allow_unverified: bool = False  # --allow-unverified: data files need not match the digests
    first_look: bool = False  # no --methods given: the first look (FIRST_LOOK_METHODS)

    def at(self, point: Point) -> SuiteOptions:
        """The options of one grid point: its values added to the ``--set`` overrides."""
        return dataclasses.replace(self, overrides=(*self.overrides, *point), grid=())

    @property
    def case_count(self) -> int:
        """Cases in the whole matrix (every shard): datasets x methods x seeds x grid points."""
        return len(self.datasets) * len(self.methods) * self.seeds * len(points(self.grid))

    def recipe(self, method: str, seed: int) -> Any:
        """The recipe one case runs: the named recipe, the overrides, then the case's seed."""
        known = {
            f for m in self.methods for f in recipe_fields(registry.recipe(m, self.recipe_name))
        }
        recipe = apply_overrides(
            registry.recipe(method, self.recipe_name), dict(self.overrides), known
        )
        return dataclasses.replace(recipe, seed=recipe.seed + seed)

    @property
    def overridden(self) -> tuple[str, ...]:
        """Recipe fields the user changed that void the floors: not the seed (floors allow for
        seed spread), nor ``precision`` and ``compile``, which execute the same algorithm."""
        return tuple(k for k, _ in self.overrides if k not in EXECUTION_FIELDS)

    def check_device(self, device: torch.device) -> None:
        """Raise :class:`OptionError` when a recipe's precision or compile mode cannot run on
        ``device`` (e.g. ``precision=tf32`` on a CPU), before any case runs."""
        for point in points(self.grid):
            for method in self.methods:
                recipe = self.at(point).recipe(method, 0)
                try:
                    check_precision(recipe.precision, device)
                    check_compile(recipe.compile, device)
                except FFBenchError as exc:
                    raise OptionError(f"{'--grid' if point else '--set'}: {exc}") from None


def parse_options(raw: Mapping[str, Any], *, first_look: bool = False) -> SuiteOptions:
    """Validate the raw option values, keyed as :data:`~ff_algos.suite.flags.SUITE_FLAGS`
    declares them (an absent key takes the option's default); raises :class:`OptionError`
    naming the valid choices. With ``first_look`` (``pytest bench/``), no ``methods`` means the
    first look: the :data:`FIRST_LOOK_METHODS` that have the recipe, on
    :data:`FIRST_LOOK_DATASETS` unless ``datasets`` names others; ``methods="all"`` is every
    method with the recipe."""
    unknown = sorted(set(raw) - {f.key for f in SUITE_FLAGS})
    if unknown:
        raise TypeError(f"parse_options: no suite option is keyed {unknown[0]!r}")
    values = {f.key: f.initial() for f in SUITE_FLAGS} | dict(raw)
    for module in values["method_modules"]:
        try:
            registry.load_module(module)
        except FFBenchError as exc:
            raise OptionError(str(exc)) from None
    recipe = values["recipe"]
    known_recipes = registry.recipe_names()
    if recipe not in known_recipes:
        raise OptionError(
            f"--recipe {recipe!r} is unknown; choose one of: {', '.join(known_recipes)}"
        )
    first_look = first_look and values["methods"] is None and _first_look(recipe) != []
    datasets = values["datasets"]
    names = _split(datasets) if datasets else list(FIRST_LOOK_DATASETS if first_look else DATASETS)
    canonical: list[str] = []
    for name in names:
        try:
            canonical.append(dataset_info(name).name)
        except UnknownDatasetError:
            raise OptionError(
                f"--datasets: unknown dataset {name!r}; choose from: {', '.join(DATASETS)}"
            ) from None
    method_list = _first_look(recipe) if first_look else _methods(values["methods"], recipe)
    device = values["device"]
    if not _DEVICE.match(device):
        raise OptionError(f"--device {device!r} is not valid; use auto, cpu, cuda or cuda:N")
    overrides = tuple(_parse_set(s) for s in values["sets"])
    grid = parse_grid(values["grids"])
    shard = values["shard"]
    clash = sorted({k for k, _ in overrides} & {a.field for a in grid})
    if clash:
        raise OptionError(f"--set and --grid both give {clash[0]}; keep one of them")
    data_root, floors, val_size = values["data_root"], values["floors"], values["val_size"]
    opts = SuiteOptions(
        recipe_name=recipe,
        datasets=tuple(dict.fromkeys(canonical)),
        datasets_explicit=datasets is not None,
        methods=tuple(dict.fromkeys(method_list)),
        device=device,
        data_root=Path(data_root).expanduser() if data_root else None,
        seeds=_positive(values["seeds"], "--seeds"),
        overrides=overrides,
        rounds=_positive(values["rounds"], "--rounds"),
        journal=Path(values["journal"]).expanduser(),
        floors=Path(floors).expanduser() if floors else None,
        grid=grid,
        shard=parse_shard(shard) if shard is not None else None,
        curve_points=_count(values["curve_points"], "--curve-points"),
        val_size=None if val_size == "auto" else _count(val_size, "--val-size"),
        allow_unverified=values["allow_unverified"],
        first_look=first_look,
    )
    for point in points(grid):  # bad --set/--grid fields and values, before any case runs
        flag = "--grid" if point else "--set"
        at = opts.at(point)
        for method in opts.methods:
            try:
                case_recipe = at.recipe(method, 0)
                for name in opts.datasets:
                    registry.get(method).validate(case_recipe, dataset_info(name))
            except FFBenchError as exc:
                raise OptionError(f"{flag}: {exc}") from None
            for name in opts.datasets:
                _check_rows(case_recipe, dataset_info(name), opts.val_size, point)
    if grid and opts.case_count > CONFIRM_OVER and not values["yes"]:
        raise OptionError(
            f"--grid expands to {opts.case_count} cases (more than {CONFIRM_OVER}); add --yes "
            "to run them all, or give fewer values"
        )
    _check_journal(opts.journal)
    return opts


def _check_rows(recipe: Any, info: DatasetInfo, val_size: int | None, point: Point) -> None:
    """Refuse a ``train_size`` or ``--val-size`` the dataset's training split cannot hold, as
    fitting the case would (:func:`ff_algos.methods.training_rows` and
    :func:`~ff_algos.methods.validation_split`), but before any case runs."""
    n, name = info.train_size, info.name
    size = getattr(recipe, "train_size", None)
    flag = "--grid" if "train_size" in dict(point) else "--set"
    if size is not None and not 0 < size <= n:
        raise OptionError(
            f"{flag}: train_size={size} but {name} has {n} training rows; use 1..{n} or none (all)"
        )
    if not val_size:  # auto or none: validation takes only rows the recipe leaves unused
        return
    if val_size >= n:
        raise OptionError(
            f"--val-size {val_size}: {name} has {n} training rows; use 1..{n - 1}, 0 or auto"
        )
    if size is not None and size + val_size > n:
        raise OptionError(
            f"--val-size {val_size}: train_size={size} leaves {n - size} of {name}'s {n} training "
            f"rows for validation; use --val-size {n - size} or less, or a smaller train_size"
        )


def _methods(text: str | None, recipe: str) -> list[str]:
    """The methods to run: those named (each must have ``recipe``), or by default every
    registered method that has it."""
    if text is None or text.strip() == ALL_METHODS:
        return [m for m in registry.names() if recipe in registry.get(m).recipes]
    chosen: list[str] = []
    for m in _split(text):
        if m not in registry.names():
            raise OptionError(
                f"--methods: unknown method {m!r}; choose from: {', '.join(registry.names())}"
            )
        if recipe not in registry.get(m).recipes:
            has = ", ".join(registry.get(m).recipes)
            raise OptionError(f"--methods: {m} has no recipe {recipe!r} (it has: {has})")
        chosen.append(m)
    if not chosen:
        raise OptionError("--methods is empty; name at least one method, e.g. --methods ff,bp")
    return chosen


def _first_look(recipe: str) -> list[str]:
    """The first look's methods that have ``recipe`` (known recipes only)."""
    names = registry.names()
    return [m for m in FIRST_LOOK_METHODS if m in names and recipe in registry.get(m).recipes]


def _check_journal(path: Path) -> None:
    """Refuse a journal path that cannot be appended to, before any case trains."""
    if path.is_dir():
        raise OptionError(f"--journal {path} is a folder; give a file path, e.g. {path}/run.jsonl")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise OptionError(f"--journal {path}: {parent} is a file, so the folder cannot be made")
    if not os.access(parent if not path.exists() else path, os.W_OK):
        raise OptionError(f"--journal {path} is not writable here; choose another path")


def resolve_device(spec: str) -> torch.device:
    """``auto`` picks the first CUDA device when there is one, else the CPU; an explicit CUDA
    device that does not exist is an error."""
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise OptionError(f"--device {spec}: CUDA is not available here; use --device cpu")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise OptionError(
                f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) are visible"
            )
    return device


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _parse_set(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise OptionError(f"--set {text!r}: expected FIELD=VALUE, e.g. --set epochs=10")
    return key.strip(), value.strip()


def _count(text: str, flag: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise OptionError(f"{flag} {text!r}: expected a whole number of 0 or more")
    return value


def _positive(text: str, flag: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise OptionError(f"{flag} {text!r}: expected a whole number of at least 1")
    return value
