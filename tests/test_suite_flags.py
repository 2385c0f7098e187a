"""The suite's one option declaration: pytest and ``ff-bench sweep`` take every option of it,
the sweep passes them to each shard's pytest unchanged, and both help pages read alike."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ff_algos.cli import UsageError, build_parser
from ff_algos.suite.flags import SUITE_FLAGS, SWEEP_FLAGS, Flag, collect, shard_arguments
from ff_algos.suite.options import parse_options

pytest_plugins = ["pytester"]
SUITE = Path(__file__).resolve().parents[1] / "ff_algos" / "suite"

# a pytest session that registers the declaration and writes what it parsed to values.json
CONFTEST = """
from ff_algos.suite.flags import register

def pytest_addoption(parser):
    register(parser.getgroup("ff-bench").addoption)
"""
DUMP = """
import json
from ff_algos.suite.flags import collect

def test_dump(request):
    with open("values.json", "w") as fh:
        json.dump(collect(request.config.getoption), fh)
"""


def _sample(flag: Flag) -> Any:
    """A value unlike the default, with the characters values carry (commas, '/', '=')."""
    if flag.switch:
        return True
    if flag.repeatable:
        return [f"{flag.key}=1,2/3", f"{flag.key}_b=x"]
    return f"{flag.key},a/b=c"


def _cli(values: dict[str, Any], flags: tuple[Flag, ...]) -> list[str]:
    out: list[str] = []
    for flag in flags:
        value = values[flag.key]
        if flag.switch:
            out += [flag.flag] if value else []
        elif flag.repeatable:
            out += [f"{flag.flag}={v}" for v in value]
        else:
            out.append(f"{flag.flag}={value}")
    return out


def _pytest_values(pytester: pytest.Pytester, args: list[str]) -> dict[str, Any]:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_dump=DUMP)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:benchmark", *args)
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    values: dict[str, Any] = json.loads((pytester.path / "values.json").read_text())
    return values


def test_keys_and_flags_are_unique() -> None:
    assert (
        len({f.key for f in SUITE_FLAGS}) == len({f.name for f in SUITE_FLAGS}) == len(SUITE_FLAGS)
    )
    assert {f.key for f in SUITE_FLAGS} - {f.key for f in SWEEP_FLAGS} == {"journal", "shard"}


def test_absent_options_take_the_declared_defaults(pytester: pytest.Pytester) -> None:
    assert _pytest_values(pytester, []) == {f.key: f.initial() for f in SUITE_FLAGS}
    sweep = build_parser().parse_args(["sweep"])
    assert collect(lambda key: getattr(sweep, key), SWEEP_FLAGS) == {
        f.key: f.initial() for f in SWEEP_FLAGS
    }


def test_every_option_round_trips_from_the_sweep_into_each_shards_pytest(
    pytester: pytest.Pytester,
) -> None:
    given = {f.key: _sample(f) for f in SWEEP_FLAGS}
    sweep = build_parser().parse_args(["sweep", *_cli(given, SWEEP_FLAGS)])
    parsed = collect(lambda key: getattr(sweep, key), SWEEP_FLAGS)
    assert parsed == given
    forwarded = shard_arguments(parsed)
    shard = _pytest_values(pytester, [*forwarded, "--journal=j.jsonl", "--shard=2/3"])
    for flag in SWEEP_FLAGS:
        expected = given[flag.key] if flag.forward else flag.initial()
        assert shard[flag.key] == expected, flag.flag
    assert (shard["journal"], shard["shard"]) == ("j.jsonl", "2/3")
    assert "--yes" not in forwarded  # each shard command adds it: the sweep confirmed the grid


def test_pytest_takes_every_option_directly(pytester: pytest.Pytester) -> None:
    given = {f.key: _sample(f) for f in SUITE_FLAGS}
    assert _pytest_values(pytester, _cli(given, SUITE_FLAGS)) == given


def test_options_the_sweep_sets_per_shard_are_not_sweep_options() -> None:
    with pytest.raises(UsageError, match="unrecognized arguments: --journal=x"):
        build_parser().parse_args(["sweep", "--journal=x"])


def test_parse_options_reads_every_key_and_refuses_others() -> None:
    opts = parse_options({"datasets": "mnist", "methods": "ff", "journal": "j.jsonl"})
    assert (opts.recipe_name, opts.seeds, opts.curve_points, opts.val_size) == ("quick", 1, 4, None)
    with pytest.raises(TypeError, match="no suite option is keyed 'ff_set'"):
        parse_options({"ff_set": ["epochs=1"]})


def test_both_help_pages_show_the_same_text(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytester.makeconftest(CONFTEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "--help")
    pytest_help = " ".join(result.stdout.str().split())
    capsys.readouterr()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sweep", "--help"])
    sweep_help = " ".join(capsys.readouterr().out.split())
    for flag in SUITE_FLAGS:
        text = " ".join(flag.arguments()["help"].split())
        assert text in pytest_help, flag.flag
        assert (text in sweep_help) == flag.sweep, flag.flag


def test_the_suite_never_imports_the_sweep() -> None:
    for path in sorted(SUITE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert not re.match(r"ff_algos\.sweep\b", name), f"{path.name} imports {name}"
