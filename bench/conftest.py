"""pytest glue for the ff-bench suite: options, parametrization, machine info, journal, summary.

    pytest bench/ --benchmark-save=NAME [--recipe quick] [--datasets mnist,fashion_mnist]
                  [--methods ff,bp|all] [--device auto] [--seeds 1] [--set FIELD=VALUE ...]
                  [--grid FIELD=V1/V2/... ...] [--shard K/N]

The measuring itself is in :mod:`ff_algos.suite` and :mod:`ff_algos.telemetry`; this file only
connects them to pytest and pytest-benchmark.
"""

from __future__ import annotations

import dataclasses
import io
import os
import signal
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch
from pytest_benchmark.utils import get_commit_info
from rich.console import Console

from ff_algos.data import is_present, resolve_root
from ff_algos.errors import FFBenchError
from ff_algos.suite.depth_scaling import ScalingConfig
from ff_algos.suite.depth_scaling import configs as scaling_configs
from ff_algos.suite.flags import collect, register
from ff_algos.suite.floors import load_floors
from ff_algos.suite.grid import Point
from ff_algos.suite.matrix import case_matrix, shard_cases
from ff_algos.suite.options import OptionError, SuiteOptions, parse_options, resolve_device
from ff_algos.suite.plan import SCALING_CASE_S, Plan, dataset_estimate, header
from ff_algos.suite.progress import Terminal
from ff_algos.suite.saving import SaveGuard, guard_saving
from ff_algos.suite.state import Suite
from ff_algos.suite.summary import summary_table
from ff_algos.sweep.shard_stamp import shard_record
from ff_algos.telemetry import GitState, TelemetrySession, git_state
from ff_algos.telemetry import machine_info as ff_bench_machine_info

FLOORS_FILE = Path(__file__).with_name("floors.toml")  # --floors' default


SUITE = pytest.StashKey[Suite]()
SAVING = pytest.StashKey[SaveGuard]()
PLAN = pytest.StashKey[Plan]()
SCALING = pytest.StashKey[dict[str, ScalingConfig]]()
# the commit the session's code came from, read as it starts (ours, pytest-benchmark's)
CODE = pytest.StashKey[tuple[GitState, dict[str, Any]]]()
SCALING_DATASET = "synthetic"  # the scaling cases' dataset parameter: random MNIST-shaped rows


def pytest_addoption(parser: pytest.Parser) -> None:
    register(parser.getgroup("ff-bench", "Forward-Forward vs backprop benchmark").addoption)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-benchmark reads the commit when it saves, after hours of training perhaps, when
    # HEAD may have moved: the run's code is what was checked out now
    project = config.getoption("benchmark_project_name", None)
    config.stash[CODE] = (git_state(), get_commit_info(project))  # type: ignore[no-untyped-call]
    try:
        raw = collect(config.getoption)
        # a sweep's shards run the sweep's matrix; a plain session without --methods, the first look
        options = parse_options(raw, first_look=raw["shard"] is None)
        floors = load_floors(options.floors or FLOORS_FILE)
        options.check_device(resolve_device(options.device))
        _check_group_by(config.getoption("benchmark_group_by", None), options)
    except FFBenchError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SUITE] = Suite(options, floors, session_id=uuid.uuid4().hex[:12])
    if options.shard is not None:  # a sweep's shard: a cancelled job still saves finished cases
        signal.signal(signal.SIGTERM, _interrupt)


def _check_group_by(group_by: str | None, options: SuiteOptions) -> None:
    """A ``--benchmark-group-by=param:NAME`` that no case has would end the session in a
    ``KeyError`` after every case ran: refuse it before any case runs."""
    params = ("dataset", "method", "seed", *(("grid",) if options.grid else ()))
    for grouping in (group_by or "").split(","):
        name = grouping.strip().removeprefix("param:")
        if grouping.strip().startswith("param:") and name not in params:
            raise OptionError(
                f"--benchmark-group-by {grouping.strip()}: the cases have no parameter {name!r}; "
                f"group by one of: {', '.join('param:' + p for p in params)}"
            )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    options = metafunc.config.stash[SUITE].options
    if "scaling" in metafunc.fixturenames:
        _scaling_cases(metafunc, options)
        return
    if "dataset" not in metafunc.fixturenames:
        return
    if not options.grid:
        cases = [pytest.param(c.dataset, c.method, c.seed, id=c.id) for c in shard_cases(options)]
        metafunc.parametrize(("dataset", "method", "seed"), cases)
        return
    gridded = [
        pytest.param(c.dataset, c.method, c.seed, dict(c.point), id=c.id)
        for c in shard_cases(options)
    ]
    metafunc.parametrize(("dataset", "method", "seed", "grid"), gridded)


def _scaling_cases(metafunc: pytest.Metafunc, options: SuiteOptions) -> None:
    """The scaling benchmark's configurations (not in sharded or gridded sessions).

    Each case's pytest parameters are plain and the same as a ``test_fit`` case's (``dataset``
    is ``synthetic``: the rows are random, MNIST-shaped; ``method`` the algorithm; ``seed``), so
    that every ``--benchmark-group-by=param:NAME`` and ``pytest-benchmark compare --group-by``
    works on a run holding both kinds; the ``scaling`` fixture finds the configuration by the
    case id, which names it."""
    found = scaling_configs(options.recipe_name, options.methods)
    why = (
        "the scaling benchmark runs in sessions without --shard and --grid"
        if options.shard is not None or options.grid
        else "the first look leaves the scaling benchmark out: run it with --methods all "
        "(or --methods ff,bp)"
        if options.first_look
        else None
        if found
        else "the scaling benchmark compares ff and bp; --methods names neither"
    )
    by_id = {scaling_id(c): c for c in found} if why is None else {}
    metafunc.config.stash[SCALING] = by_id
    if why is not None:
        params = [
            pytest.param(
                SCALING_DATASET, "none", 0, id="scaling", marks=pytest.mark.skip(reason=why)
            )
        ]
    else:
        params = [
            pytest.param(SCALING_DATASET, c.algorithm, c.seed, id=case_id)
            for case_id, c in by_id.items()
        ]
    metafunc.parametrize(("dataset", "method", "seed"), params)


def scaling_id(config: ScalingConfig) -> str:
    """A scaling case's id: ``ff-batch256-depth2``."""
    return f"{config.algorithm}-batch{config.batch}-depth{config.depth}"


@pytest.fixture
def scaling(request: pytest.FixtureRequest) -> ScalingConfig:
    """The scaling case's configuration, found by its case id."""
    return request.config.stash[SCALING][request.node.callspec.id]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say what the session will run and roughly how long it will take."""
    suite = session.config.stash.get(SUITE, None)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if suite is None or reporter is None:
        return
    options = suite.options
    plan = _plan(options, session.items)
    session.config.stash[PLAN] = plan
    if not plan.cases:
        return
    for line in header(
        first_look=options.first_look,
        methods=options.methods,
        recipe_name=options.recipe_name,
        datasets=options.datasets,
        plan=plan,
    ):
        reporter.write_line(line, bold=True)


def _plan(options: SuiteOptions, items: list[pytest.Item]) -> Plan:
    """The cases that will run, in order, with their estimates (skipped cases and cases whose
    data is absent are left out)."""
    root = resolve_root(options.data_root)
    present = {d: is_present(d, root) for d in options.datasets}
    cases: dict[str, tuple[str, float]] = {}
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or item.get_closest_marker("skip") is not None:
            continue
        params = callspec.params
        if "scaling" in getattr(item, "fixturenames", ()):
            cases[item.nodeid] = (f"scaling {callspec.id}", SCALING_CASE_S)
        elif present.get(params.get("dataset"), False):
            grid = params.get("grid") or {}
            at = options.at(tuple(grid.items())) if grid else options
            recipe = at.recipe(params["method"], params["seed"])
            cases[item.nodeid] = (callspec.id, dataset_estimate(recipe, params["dataset"]))
    return Plan(cases)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """Overall progress as each case starts: case N of M, about T left."""
    plan = item.config.stash.get(PLAN, None)
    line = plan.start(item.nodeid) if plan is not None else None
    reporter = item.config.pluginmanager.get_plugin("terminalreporter")
    if line is not None and reporter is not None:
        reporter.write_line(line)
    try:
        return (yield)
    finally:
        if plan is not None:
            plan.finish(item.nodeid)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    suite = config.stash.get(SUITE, None)
    if suite is not None and suite.options.shard is not None:
        options = suite.options
        output_json["ff_bench_shard"] = shard_record(options, [c.id for c in case_matrix(options)])


def pytest_benchmark_generate_commit_info(config: pytest.Config) -> dict[str, Any] | None:
    """The commit_info read when the session started (None: pytest-benchmark's own)."""
    code = config.stash.get(CODE, None)
    return None if code is None else dict(code[1])


def pytest_benchmark_update_machine_info(
    config: pytest.Config, machine_info: dict[str, Any]
) -> None:
    suite = config.stash.get(SUITE, None)
    device = None
    if suite is not None:
        try:
            device = resolve_device(suite.options.device)
        except FFBenchError:
            device = None  # the device fixture fails the cases with the reason
    code = config.stash.get(CODE, None)
    git = None if code is None else code[0]
    machine_info["ff_bench"] = ff_bench_machine_info(device=device, git=git)


@pytest.fixture
def grid() -> dict[str, str]:
    """The case's grid point (``{field: value}``); parametrized when the session has a grid."""
    return {}


@pytest.fixture
def suite(request: pytest.FixtureRequest, grid: dict[str, str]) -> Suite:
    """The session's suite; with a grid, its options carry the case's grid point as overrides
    (the case list ``rows`` stays shared)."""
    session = request.config.stash[SUITE]
    if not grid:
        return session
    point: Point = tuple(grid.items())
    return dataclasses.replace(session, options=session.options.at(point))


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest) -> torch.device:
    try:
        return resolve_device(request.config.stash[SUITE].options.device)
    except FFBenchError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def telemetry(device: torch.device) -> Iterator[TelemetrySession]:
    with TelemetrySession(device) as session:
        session.peak_flops(torch.float32)  # measured once, before any case, out of the timings
        yield session


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Terminal:
    """``with terminal() as console:`` suspends pytest's output capture for the block and gives
    a console on the real terminal (used inside the test body: capture resumes between phases)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")

    @contextmanager
    def on_terminal() -> Iterator[Console]:
        if capture is None:
            yield Console()
            return
        with capture.global_and_fixture_disabled():
            yield Console()

    return on_terminal


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> Iterator[None]:
    """Before pytest-benchmark saves: its run and ``--benchmark-json`` files are written
    atomically, and a refused write (a full disk) fails the session with one line instead of a
    traceback and a partial file."""
    suite = session.config.stash.get(SUITE, None)
    bench_session = getattr(session.config, "_benchmarksession", None)
    if suite is not None and bench_session is not None:
        session.config.stash[SAVING] = guard_saving(bench_session, suite.options.journal)
    result = yield
    guard = session.config.stash.get(SAVING, None)
    if guard is not None and guard.failures and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    return result


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    guard = config.stash.get(SAVING, None)
    for failure in guard.failures if guard is not None else ():
        terminalreporter.write_line(failure, red=True, bold=True)
    suite = config.stash.get(SUITE, None)
    if suite is None or not suite.rows:
        return
    buffer = io.StringIO()
    width = max(config.get_terminal_writer().fullwidth, 150)
    Console(file=buffer, force_terminal=terminalreporter.isatty, width=width).print(
        summary_table(suite.rows)
    )
    terminalreporter.write_sep("=", "ff-bench summary")
    terminalreporter.write(buffer.getvalue())
    terminalreporter.write_line(f"journal: {os.path.abspath(suite.options.journal)}")
