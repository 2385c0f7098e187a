"""The ``ff-bench sweep`` and ``ff-bench merge`` sub-commands.

    ff-bench sweep --methods ff --datasets mnist --grid threshold=1/2/4/8 --grid lr=0.01/0.03/0.1 \\
        --seeds 2 --shards 8 --name thr-lr [--partition gpu --time 01:00:00 --gpus-per-task 1]
    ff-bench sweep --resume .benchmarks/sweeps/thr-lr      # resubmit failed/cancelled shards
    ff-bench sweep --status .benchmarks/sweeps/thr-lr
    ff-bench merge .benchmarks/sweeps/thr-lr --name thr-lr   # or the shards' saved run files
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ff_algos.suite.flags import SWEEP_FLAGS, HelpFormatter, collect, shard_arguments
from ff_algos.suite.flags import register as register_flags
from ff_algos.sweep.errors import SweepError
from ff_algos.sweep.local import worker_device

DEFAULT_STORAGE = Path(".benchmarks")
SWEEPS = DEFAULT_STORAGE / "sweeps"


def register(subparsers: Any) -> None:
    """Add ``sweep`` and ``merge`` to the ``ff-bench`` parser."""
    sweep = subparsers.add_parser(
        "sweep",
        help="run the suite's cases as N shards: a SLURM job array, or local processes",
        description="Deal the session's cases into N shards and run each as an ordinary "
        "`pytest bench/ --shard K/N --benchmark-save` session: as a SLURM job array (sbatch), or "
        "as local processes (one per visible GPU, or --workers CPU processes). When all are "
        "done the shards' runs are merged into one saved run.",
        formatter_class=HelpFormatter,
    )
    register_flags(
        sweep.add_argument_group("the cases (as pytest bench/)").add_argument, SWEEP_FLAGS
    )
    run = sweep.add_argument_group("the sweep")
    run.add_argument(
        "--shards",
        type=_at_least_one,
        metavar="N",
        help="N shards (default: local slots; SLURM: one per case, at most 16)",
    )
    run.add_argument(
        "--name", help="saved name of the shards' and the merged run (default: sweep-RECIPE)"
    )
    run.add_argument(
        "--out", type=Path, metavar="DIR", help=f"sweep folder (default: {SWEEPS}/NAME)"
    )
    run.add_argument(
        "--storage",
        type=Path,
        metavar="DIR",
        help=f"where the merged run is saved (default: {DEFAULT_STORAGE}; on --resume and "
        "--status: the sweep's own)",
    )
    run.add_argument(
        "--bench", type=Path, default=Path("bench"), metavar="DIR", help="the suite's folder"
    )
    run.add_argument(
        "--launcher",
        choices=("auto", "slurm", "local"),
        default="auto",
        help="auto: slurm when sbatch is on PATH, else local",
    )
    run.add_argument(
        "--no-wait",
        action="store_true",
        help="SLURM: submit and return (follow with --status, merge later)",
    )
    run.add_argument(
        "--poll",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="seconds between progress checks",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="resubmit the failed or cancelled shards of the sweep in DIR; "
        "finished cases (journaled and saved) are skipped",
    )
    run.add_argument("--status", type=Path, metavar="DIR", help="show the shards of DIR and exit")
    cluster = sweep.add_argument_group("SLURM (each array task runs one shard)")
    cluster.add_argument("--partition", metavar="NAME")
    cluster.add_argument("--time", metavar="TIME", help="time limit per task, e.g. 02:00:00")
    cluster.add_argument("--account", metavar="NAME")
    cluster.add_argument("--constraint", metavar="FEATURES", help="node features, e.g. h100")
    cluster.add_argument(
        "--gpus-per-task", type=_at_least_one, metavar="N", help="GPUs per task (default: none)"
    )
    cluster.add_argument(
        "--cpus-per-task", type=_at_least_one, metavar="N", help="CPUs per task (also the threads)"
    )
    cluster.add_argument("--mem", metavar="SIZE", help="memory per task, e.g. 32G")
    cluster.add_argument(
        "--max-running", type=_at_least_one, metavar="M", help="array tasks running at once"
    )
    cluster.add_argument(
        "--sbatch-arg",
        action="append",
        default=[],
        metavar="OPTION",
        help="another sbatch option, verbatim (repeatable), e.g. --sbatch-arg=--qos=high",
    )
    local = sweep.add_argument_group("local processes (no SLURM)")
    local.add_argument(
        "--workers",
        type=_at_least_one,
        metavar="N",
        help="CPU processes when no GPU is used (default 1); with GPUs: one per visible GPU",
    )
    local.add_argument(
        "--threads",
        type=_at_least_one,
        metavar="T",
        help="threads per process (default: CPUs / processes)",
    )
    sweep.set_defaults(run=run_sweep)

    merge = subparsers.add_parser(
        "merge",
        help="one saved run from the runs of a sweep's shards",
        description="Merge shards' saved runs into one run that ff-bench report, ff-bench "
        "compare and pytest-benchmark compare read like any other. Checks that they share "
        "commit, options and recipe; duplicate or missing cases are named.",
        formatter_class=HelpFormatter,
    )
    merge.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="a saved run file, a run name or number, or a sweep folder (all its shards' runs)",
    )
    merge.add_argument("--name", required=True, help="saved name of the merged run")
    merge.add_argument(
        "--storage",
        type=Path,
        default=DEFAULT_STORAGE,
        help="pytest-benchmark storage the merged run is saved in",
    )
    merge.add_argument(
        "--allow-missing",
        action="store_true",
        help="merge even when cases of the sweep are in no run",
    )
    merge.set_defaults(run=run_merge)


def run_sweep(args: argparse.Namespace) -> int:
    """``ff-bench sweep``: 0 when every shard is done (and merged), 1 when some failed."""
    from ff_algos.sweep.layout import SweepDir
    from ff_algos.sweep.progress import shard_states

    if args.status is not None:
        sweep = SweepDir(args.status)
        manifest = sweep.read_manifest()
        states = shard_states(sweep, _cases(manifest), _live(sweep))
        return _report(sweep, manifest, states, args, merge_done=False)
    if args.resume is not None:
        return _resume(args)
    return _start(args)


def _start(args: argparse.Namespace) -> int:
    from ff_algos.data import is_present, resolve_root
    from ff_algos.suite.matrix import case_matrix
    from ff_algos.suite.options import parse_options
    from ff_algos.suite.shard import assign
    from ff_algos.sweep import launch
    from ff_algos.sweep.layout import SweepDir
    from ff_algos.sweep.shard_stamp import options_record

    if not (args.bench / "conftest.py").is_file():
        raise SweepError(
            f"--bench {args.bench}: no suite there (no conftest.py); run from the checkout or "
            "pass --bench PATH/TO/bench"
        )
    datasets = args.datasets
    if datasets is None:
        root = resolve_root(Path(args.data_root) if args.data_root else None)
        from ff_algos.data import DATASETS

        present = [d for d in DATASETS if is_present(d, root)]
        if not present:
            raise SweepError(f"no dataset is present under {root}; ff-bench data fetch mnist")
        datasets = ",".join(present)
    name = args.name or f"sweep-{args.recipe}"
    out = args.out or SWEEPS / name
    sweep = SweepDir(out)
    if sweep.manifest.exists():
        sweep.write_manifest({})  # refuses, naming --resume
    values = collect(lambda key: getattr(args, key), SWEEP_FLAGS) | {"datasets": datasets}
    options = parse_options(values | {"journal": str(out / "shard-1" / "journal.jsonl")})
    launcher = _launcher(args.launcher)
    slots = _slots(args, options.device) if launcher == "local" else []
    ids = [c.id for c in case_matrix(options)]
    default = len(slots) if launcher == "local" else 16
    count = min(args.shards if args.shards is not None else default, len(ids))
    shard_of = assign(ids, count)
    cases = {k: [c for c in ids if shard_of[c] == k] for k in range(1, count + 1)}
    if launcher == "local" and values.get("device") is not None:
        # a local worker pinned to one GPU numbers it cuda:0 (see sweep.local.pin)
        values = values | {"device": worker_device(values["device"])}
    pytest_args = shard_arguments(values)  # datasets always explicit
    manifest = launch.manifest_for(
        name=name, shards=count, cases=cases, pytest_args=pytest_args, bench=args.bench,
        checkout=Path.cwd(), options=options_record(options),
    )  # fmt: skip
    manifest["launcher"] = {"kind": launcher, "slurm": dataclasses.asdict(_slurm(args))}
    manifest["launcher"] |= {"workers": args.workers, "threads": args.threads}
    manifest["storage"] = str((args.storage or DEFAULT_STORAGE).resolve())
    sweep.write_manifest(manifest)
    print(f"sweep {name}: {len(ids)} cases in {count} shards, {launcher}; folder {out}")
    launched = launch.submit(sweep, manifest, list(cases), launcher, _slurm(args), slots)
    return _after_submit(sweep, manifest, launched, args)


def _resume(args: argparse.Namespace) -> int:
    from ff_algos.sweep import launch
    from ff_algos.sweep.layout import SweepDir
    from ff_algos.sweep.progress import shard_states
    from ff_algos.sweep.script import SlurmOptions

    sweep = SweepDir(args.resume)
    manifest = sweep.read_manifest()
    stored = manifest.get("launcher", {})
    launcher = _launcher(args.launcher if args.launcher != "auto" else stored.get("kind", "auto"))
    states = shard_states(sweep, _cases(manifest), _live(sweep))
    busy = [s.shard for s in states if s.state in ("pending", "running")]
    again = [s.shard for s in states if s.state == "failed"]
    if busy:
        raise SweepError(
            f"shards {', '.join(map(str, busy))} are still pending or running; wait for them "
            f"(ff-bench sweep --status {args.resume}) before --resume"
        )
    if not again:
        print(f"sweep {manifest['name']}: every shard is done; nothing to resubmit")
        return _report(sweep, manifest, states, args, merge_done=True)
    slurm_options = SlurmOptions(**{**stored.get("slurm", {}), "extra": tuple(
        stored.get("slurm", {}).get("extra", ()))})  # fmt: skip
    for field in dataclasses.fields(SlurmOptions):
        given = getattr(_slurm(args), field.name)
        if given not in (None, ()):
            slurm_options = dataclasses.replace(slurm_options, **{field.name: given})
    for key in ("workers", "threads"):
        if getattr(args, key) is None:
            setattr(args, key, stored.get(key))
    slots = _slots(args, manifest["options"]["device"]) if launcher == "local" else []
    print(f"sweep {manifest['name']}: resubmitting shards {', '.join(map(str, again))}")
    launched = launch.submit(sweep, manifest, again, launcher, slurm_options, slots)
    return _after_submit(sweep, manifest, launched, args)


def _after_submit(
    sweep: Any, manifest: dict[str, Any], launched: Any, args: argparse.Namespace
) -> int:
    from ff_algos.sweep import launch

    if launched.job is not None:
        print(f"submitted SLURM job {launched.job} (script {sweep.script(launched.number)})")
        if args.no_wait:
            print(f"follow with: ff-bench sweep --status {sweep.root}")
            return 0
    states = launch.follow(sweep, _cases(manifest), launched, poll=args.poll, echo=print)
    return _report(sweep, manifest, states, args, merge_done=True)


def _report(
    sweep: Any, manifest: dict[str, Any], states: list[Any], args: argparse.Namespace,
    *, merge_done: bool,
) -> int:  # fmt: skip
    from ff_algos.sweep.progress import summary_line

    print(summary_line(states))
    for state in states:
        if state.state == "failed":
            print(f"  shard {state.shard} failed: {state.reason}; log: {state.log}")
    failed = [s for s in states if s.state == "failed"]
    if failed:
        print(f"resubmit them with: ff-bench sweep --resume {sweep.root}")
        return 1
    if merge_done and all(s.state == "done" for s in states):
        storage = args.storage or Path(manifest.get("storage", DEFAULT_STORAGE))
        path = _merge([sweep.root], manifest["name"], storage, allow_missing=False)
        print(f"merged run: {path}")
        print(f"report it with: ff-bench report {path}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """``ff-bench merge``."""
    path = _merge([Path(r) for r in args.runs], args.name, args.storage, args.allow_missing)
    print(f"merged run: {path}")
    return 0


def _merge(specs: list[Path], name: str, storage: Path, allow_missing: bool) -> Path:
    from ff_algos.sweep.layout import SweepDir
    from ff_algos.sweep.merge import load_source, machine_id, merge, save_merged

    paths: list[Path] = []
    for spec in specs:
        if (spec / "sweep.json").is_file():
            sweep = SweepDir(spec)
            for k in range(1, int(sweep.read_manifest()["shards"]) + 1):
                paths.extend(sweep.runs(k))
        elif spec.is_file():
            paths.append(spec)
        else:
            from ff_algos.report.runs import find_run

            paths.append(find_run(str(spec), storage)[0].path)
    sources = [load_source(p) for p in paths]
    merged = merge(sources, allow_missing=allow_missing)
    return save_merged(merged, storage, name, machine_id(sources[0]))


def _cases(manifest: dict[str, Any]) -> dict[int, list[str]]:
    return {int(k): list(v) for k, v in manifest["cases"].items()}


def _live(sweep: Any) -> dict[int, str]:
    """Pending/running shards of the sweep's SLURM submissions still in the queue."""
    from ff_algos.sweep import slurm

    latest = sweep.latest()
    live: dict[int, str] = {}
    for sub in sweep.submissions():
        if sub.get("job") and slurm.available():
            for k, state in slurm.queue(str(sub["job"])).items():
                if latest.get(k) == sub["number"]:
                    live[k] = state
    return live


def _launcher(choice: str) -> str:
    from ff_algos.sweep import slurm

    if choice == "slurm" and not slurm.available():
        raise SweepError("--launcher slurm: sbatch/squeue are not on PATH; use --launcher local")
    if choice == "auto":
        return "slurm" if slurm.available() else "local"
    return choice


def _slurm(args: argparse.Namespace) -> Any:
    from ff_algos.sweep.script import SlurmOptions

    return SlurmOptions(
        partition=args.partition, time=args.time, account=args.account,
        constraint=args.constraint, gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task, mem=args.mem, max_running=args.max_running,
        extra=tuple(args.sbatch_arg),
    )  # fmt: skip


def _slots(args: argparse.Namespace, device: str) -> list[dict[str, str]]:
    from ff_algos.sweep.local import pin, slots, visible_gpus

    gpus = [] if device == "cpu" else visible_gpus()
    if device.startswith("cuda") and not gpus:
        raise SweepError(f"--device {device}: no GPU is visible here; use --device cpu")
    try:
        gpus, _ = pin(device, gpus)
    except ValueError as e:
        raise SweepError(str(e)) from None
    made = slots(gpus, args.workers, os.cpu_count() or 1)
    if args.threads:
        made = [s | {"OMP_NUM_THREADS": str(args.threads)} for s in made]
    return made


def _at_least_one(text: str) -> int:
    """A whole number of 1 or more (``type=`` of the sweep's counts)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    """A finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {text!r}")
    return value
