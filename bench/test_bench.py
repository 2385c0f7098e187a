"""The benchmark cases: every dataset x method x seed is one full, measured training run.

    pytest bench/ --benchmark-save=NAME

Each case is timed end to end by ``benchmark.pedantic`` (``--rounds`` runs, default 1; no
calibration loop) and carries the full measurement record in ``extra_info``
(:mod:`ff_algos.schema`). It is appended to the results journal as soon as it ends, and fails
when its test accuracy is below the reviewed floor.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import torch

from ff_algos.data import is_present, resolve_root
from ff_algos.errors import FFBenchError
from ff_algos.suite.case import CaseSpec, case_peak, run_case, warm_up
from ff_algos.suite.journal import append_record
from ff_algos.suite.oom import memory_report
from ff_algos.suite.progress import Terminal, progress_observer
from ff_algos.suite.state import Suite
from ff_algos.telemetry import TelemetrySession


def test_fit(
    benchmark: Any,
    suite: Suite,
    device: torch.device,
    telemetry: TelemetrySession,
    terminal: Terminal,
    dataset: str,
    method: str,
    seed: int,
    request: pytest.FixtureRequest,
) -> None:
    options = suite.options
    root = resolve_root(options.data_root)
    if not is_present(dataset, root):
        reason = (
            f"{dataset} is not present under {root}; "
            f"fetch it with: ff-bench data fetch {dataset} --data-root {root}"
        )
        if options.datasets_explicit:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)

    spec = CaseSpec(dataset, options.recipe(method, seed), device, options.data_root)
    floor = suite.floors.lookup(options.recipe_name, dataset, method, options.overridden)
    benchmark.group = dataset
    record: dict[str, Any] = {
        "session": suite.session_id,
        "nodeid": request.node.nodeid,
        "dataset": dataset,
        "method": method,
        "seed": spec.recipe.seed,
        "recipe_name": options.recipe_name,
    }
    try:
        case_peak(telemetry, spec)  # measured once per precision, before the timed run
        warm_up(spec)
        with terminal() as console:
            observer, bar = progress_observer(console, f"{dataset}/{method}/seed{seed}")
            try:
                info = benchmark.pedantic(
                    run_case,
                    args=(spec, telemetry, floor, observer),
                    rounds=options.rounds,
                    iterations=1,
                    warmup_rounds=0,
                )
            finally:
                if bar is not None:
                    bar.close()
    except torch.OutOfMemoryError as exc:
        report = memory_report(device)
        _journal(suite, record | {"status": "out_of_memory", "error": str(exc), **report})
        pytest.fail(f"out of device memory: {report['summary']}", pytrace=False)
    except FFBenchError as exc:
        _journal(suite, record | {"status": "error", "error": str(exc)})
        pytest.fail(str(exc), pytrace=False)

    info["recipe_name"] = options.recipe_name
    benchmark.extra_info.update(info)
    status = {True: "passed", False: "below_floor", None: "no_floor"}[info["accuracy"]["passed"]]
    _journal(suite, record | {"status": status, "extra_info": info})
    suite.rows.append(info)
    if info["accuracy"]["passed"] is False:
        pytest.fail(
            f"{dataset}/{method}: test accuracy {info['accuracy']['test']:.4f} is below the floor "
            f"{floor.value:.4f} ({suite.floors.path})",
            pytrace=False,
        )


def _journal(suite: Suite, record: dict[str, Any]) -> None:
    record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    append_record(suite.options.journal, record)
