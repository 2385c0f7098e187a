"""The suite's command-line options, declared once.

``bench/conftest.py`` registers them with pytest and ``ff-bench sweep`` with argparse, both by
:func:`register`; :func:`ff_algos.suite.options.parse_options` reads their raw values by key, and
the sweep hands the ones it takes on to every shard's ``pytest`` command by
:func:`shard_arguments`. A new option is one :class:`Flag` in :data:`SUITE_FLAGS` (plus its
parsing in ``parse_options``), and both ``--help`` pages show the same text for it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ff_algos.suite.grid import CONFIRM_OVER

DEFAULT_JOURNAL = ".benchmarks/ff-bench-journal.jsonl"


@dataclass(frozen=True)
class Flag:
    """One suite option: ``--name`` on the command line, ``key`` on both parsers' namespaces
    and in the mapping ``parse_options`` reads."""

    name: str  # without the dashes: "set" for --set
    key: str  # the destination on both parsers, and parse_options' key
    help: str
    default: str | None = None  # the raw value when the option is absent; None: not given
    metavar: str | None = None
    repeatable: bool = False  # once per value; the values are a list, empty by default
    switch: bool = False  # present or absent (store_true)
    sweep: bool = True  # ff-bench sweep takes it too (not: the sweep sets it per shard)
    forward: bool = True  # the sweep passes it on to every shard's pytest

    @property
    def flag(self) -> str:
        """``--name``."""
        return f"--{self.name}"

    def initial(self) -> Any:
        """The value a parser gives when the option is absent."""
        if self.switch:
            return False
        return [] if self.repeatable else self.default

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``add_argument`` (argparse) and ``addoption`` (pytest)."""
        attrs: dict[str, Any] = {"dest": self.key, "help": with_default(self.help, self.initial())}
        if self.switch:
            return attrs | {"action": "store_true"}
        if self.repeatable:
            attrs |= {"action": "append"}
        return attrs | {"default": self.initial(), "metavar": self.metavar}


SUITE_FLAGS: tuple[Flag, ...] = (
    Flag(
        "recipe",
        "recipe",
        "named recipe: seed (the study's), quick, matched, tiny; strong for ff_strong, ff_group",
        default="quick",
        metavar="NAME",
    ),
    Flag(
        "datasets",
        "datasets",
        "comma-separated datasets (default: every one present; absent ones are skipped)",
        metavar="A,B",
    ),
    Flag(
        "methods",
        "methods",
        "comma-separated methods, e.g. ff,bp,ff_head, or all: every registered method that has "
        "the recipe (default for pytest bench/: the first look, ff, bp and ff_group on MNIST and "
        "FashionMNIST; for a sweep: all)",
        metavar="A,B",
    ),
    Flag(
        "method-module",
        "method_modules",
        "import MODULE and benchmark the method it defines as METHOD (repeatable)",
        metavar="MODULE",
        repeatable=True,
    ),
    Flag("device", "device", "auto, cpu, cuda or cuda:N", default="auto", metavar="DEVICE"),
    Flag(
        "data-root",
        "data_root",
        "dataset root in torchvision's layout (default: $FF_BENCH_DATA, else the user cache)",
        metavar="PATH",
    ),
    Flag("seeds", "seeds", "seeds per dataset x method", default="1", metavar="N"),
    Flag(
        "set",
        "sets",
        "override a recipe field, e.g. --set epochs=10 (repeatable)",
        metavar="FIELD=VALUE",
        repeatable=True,
    ),
    Flag(
        "grid",
        "grids",
        "several values for a recipe field, separated by '/' (commas stay inside a value: "
        "hidden=500,500/1000,1000); repeatable, the cases are the cartesian product",
        metavar="FIELD=V1/V2/...",
        repeatable=True,
    ),
    Flag("rounds", "rounds", "timed training runs per case", default="1", metavar="N"),
    Flag(
        "floors",
        "floors",
        "accuracy floors file (default: bench/floors.toml)",
        metavar="PATH",
    ),
    Flag(
        "curve-points",
        "curve_points",
        "learning-curve points per training phase (per FF layer), scored on validation rows; "
        "0: no curve",
        default="4",
        metavar="K",
    ),
    Flag(
        "val-size",
        "val_size",
        "validation rows for the curves: auto (the default: up to 5000 rows the recipe leaves "
        "unused, none when it trains on every row), or N (carved from the training split when "
        "needed)",
        default="auto",
        metavar="N",
    ),
    Flag(
        "allow-unverified",
        "allow_unverified",
        "benchmark dataset files that differ from the published digests (your own variant): "
        "recorded as unverified, never compared with the study like for like",
        switch=True,
    ),
    Flag(
        "yes",
        "yes",
        f"run a --grid of more than {CONFIRM_OVER} cases without asking",
        switch=True,
        forward=False,  # every shard gets --yes: the sweep has confirmed the grid
    ),
    Flag(
        "journal",
        "journal",
        "JSON-lines journal of finished cases",
        default=DEFAULT_JOURNAL,
        metavar="PATH",
        sweep=False,  # each shard keeps its own
    ),
    Flag(
        "shard",
        "shard",
        "run only slice K of N of the case matrix (deterministic, disjoint, complete)",
        metavar="K/N",
        sweep=False,  # the sweep deals the shards
    ),
)
SWEEP_FLAGS = tuple(f for f in SUITE_FLAGS if f.sweep)


def register(add: Callable[..., object], flags: Sequence[Flag] = SUITE_FLAGS) -> None:
    """Declare ``flags`` with ``add``: pytest's ``OptionGroup.addoption`` or argparse's
    ``add_argument`` (both take the same keyword arguments)."""
    for flag in flags:
        add(flag.flag, **flag.arguments())


def collect(get: Callable[[str], Any], flags: Sequence[Flag] = SUITE_FLAGS) -> dict[str, Any]:
    """Each flag's parsed value by key, read with ``get`` (``config.getoption``, or ``getattr``
    on an argparse namespace)."""
    return {flag.key: get(flag.key) for flag in flags}


def shard_arguments(values: Mapping[str, Any]) -> list[str]:
    """The command-line form (``--set=epochs=3``) of the sweep's ``values`` that every shard's
    pytest gets; options not given (None, no values, switched off) are left out."""
    out: list[str] = []
    for flag in (f for f in SWEEP_FLAGS if f.forward):
        value = values.get(flag.key)
        if flag.switch:
            out.extend([flag.flag] if value else [])
        elif flag.repeatable:
            out.extend(f"{flag.flag}={v}" for v in value or ())
        elif value is not None:
            out.append(f"{flag.flag}={value}")
    return out


def with_default(text: str, default: object) -> str:
    """``text`` with ``(default: X)`` added where that tells the reader something: not when the
    text already names its default, nor for a default that is unset (None), empty or off."""
    if default is None or default is False or default in ([], (), ""):
        return text
    if "default" in text.lower():
        return text
    return f"{text} (default: {default})"


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help, with a default shown only where it helps (see :func:`with_default`)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        default = action.default
        if action.help is None or default is argparse.SUPPRESS:
            return action.help
        if not (default is None or isinstance(default, bool | list | tuple)):
            default = str(default).replace("%", "%%")  # the help text is %-formatted
        return with_default(action.help, default)
