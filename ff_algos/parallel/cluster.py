"""A world outside the suite: prepare a job folder (rows, job file, SLURM script) on a login
node, run it with ``sbatch`` (or ``torchrun``), then collect the ranks' results.

    python -m ff_algos.parallel.cluster prepare --method ff_pipe --recipe quick \\
        --dataset mnist --set world=4 --nodes 2 --out runs/pipe4 [--partition cpu ...]
    sbatch --wait runs/pipe4/submit.sh
    # or, on one node: torchrun --standalone --nproc-per-node=4 \\
    #     -m ff_algos.parallel.entry runs/pipe4/job.json
    python -m ff_algos.parallel.cluster collect runs/pipe4

The folder must be on a file system every node sees (the rows, the job and the results live
there). ``collect`` prints one JSON object: each rank's report, the mean epoch time, and (for
``--serial``) whether the weights match the same recipe trained serially here.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import sys
from pathlib import Path
from typing import Any

import torch

from ff_algos import registry
from ff_algos.data import load_dataset
from ff_algos.errors import FFBenchError
from ff_algos.fitting import training_rows
from ff_algos.method import NullObserver
from ff_algos.parallel.errors import WorldError
from ff_algos.parallel.job import Job, read_results
from ff_algos.parallel.layout import resolve_backend
from ff_algos.parallel.run import WorldPlan, job_for, torch_threads, write_rows
from ff_algos.parallel.sbatch import world_script
from ff_algos.parallel.world import in_process
from ff_algos.suite.overrides import apply_overrides
from ff_algos.sweep.script import SlurmOptions

JOB_FILE = "job.json"
SCRIPT = "submit.sh"


def plan_of(method: str, recipe: Any, dataset: str, root: Path | None) -> tuple[WorldPlan, Any]:
    """The world plan of ``recipe`` on the suite's training rows of ``dataset``, and the data."""
    module = importlib.import_module(registry.builtin().get(method, method))
    make = getattr(module, "world_plan", None)
    if make is None:
        raise WorldError(f"method {method!r} does not run as a world (it has no world_plan)")
    data = load_dataset(dataset, device=torch.device("cpu"), root=root)
    data = dataclasses.replace(data, train=training_rows(recipe, data))
    plan: WorldPlan = make(recipe, data)
    return plan, data


def prepare(args: argparse.Namespace) -> Path:
    """Write the job folder; its script's path."""
    pairs = [text.partition("=") for text in args.set or []]
    recipe = apply_overrides(registry.recipe(args.method, args.recipe), {k: v for k, _, v in pairs})
    plan, data = plan_of(args.method, recipe, args.dataset, args.data_root)
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise WorldError(
            f"--out {out} is not empty; choose a new folder (results are never overwritten)"
        )
    device = torch.device(args.device)
    if device.type == "cpu":
        backend = resolve_backend(plan.backend, device, plan.world)
    else:  # the GPUs are on the compute nodes, not here: checked when the ranks start
        backend = "nccl" if plan.backend == "auto" else plan.backend
    out.mkdir(parents=True, exist_ok=True)
    rows = write_rows(out / "data.pt", data)
    job = job_for(plan, plan.runner, plan.world, plan.threads, rows, out, backend, device.type)
    job = dataclasses.replace(job, meta={**job.meta, "serial_runner": plan.serial_runner})
    (out / JOB_FILE).write_text(job.to_json())
    slurm = SlurmOptions(
        partition=args.partition,
        time=args.time,
        account=args.account,
        gpus_per_task=args.gpus_per_task,
        cpus_per_task=args.cpus_per_task,
        extra=tuple(args.sbatch_arg or ()),
    )
    script = out / SCRIPT
    script.write_text(
        world_script(
            out / JOB_FILE, plan.world, args.nodes, plan.threads, Path.cwd(), sys.executable, slurm
        )
    )
    return script


def collect(folder: Path, serial: bool) -> dict[str, Any]:
    """The ranks' reports (and the serial comparison) of a finished job folder. The serial run
    uses a rank's torch threads, whatever ``OMP_NUM_THREADS`` says here, so that bit-identity
    can hold."""
    job = Job.from_json((folder / JOB_FILE).read_text())
    ranks = read_results(folder, job.world)
    epochs = int(job.recipe["epochs"])
    out: dict[str, Any] = {
        "world": job.world,
        "ranks": [r["report"] for r in ranks],
        "epoch_seconds": max(r["report"]["train_seconds"] for r in ranks) / epochs,
    }
    if serial:
        runner = str(job.meta.get("serial_runner", job.runner))  # older folders: the world's
        ref_job = dataclasses.replace(
            job, runner=runner, world=1, backend="none", out=str(folder / "serial")
        )
        Path(ref_job.out).mkdir(exist_ok=True)
        with torch_threads(job.threads):
            ref = ref_job.resolve()(ref_job, in_process(torch.device("cpu"), NullObserver()))
        state = {k: v for r in ranks for k, v in r["state"].items()}
        out["weights_match_serial"] = set(state) == set(ref["state"]) and all(
            torch.equal(state[k][p], ref["state"][k][p])
            for k in ref["state"]
            for p in ref["state"][k]
        )
        out["serial_epoch_seconds"] = ref["report"]["train_seconds"] / epochs
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ff_algos.parallel.cluster")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="write a job folder: rows, job.json, submit.sh")
    p.add_argument("--method", required=True, help="a multi-process method: ff_pipe, bp_parallel")
    p.add_argument("--recipe", default="quick", help="named recipe (default: quick)")
    p.add_argument("--dataset", default="mnist", help="dataset (default: mnist)")
    p.add_argument("--data-root", type=Path, default=None, help="dataset root (default: cache)")
    p.add_argument(
        "--set", action="append", metavar="FIELD=VALUE", help="recipe field (repeatable)"
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default: cpu")
    p.add_argument("--nodes", type=int, default=1, help="SLURM nodes the ranks spread over")
    p.add_argument("--out", required=True, help="a new (or empty) job folder")
    p.add_argument("--partition", help="SLURM partition")
    p.add_argument("--time", help="SLURM time limit, e.g. 00:30:00")
    p.add_argument("--account", help="SLURM account")
    p.add_argument("--gpus-per-task", type=int, help="SLURM GPUs per rank")
    p.add_argument("--cpus-per-task", type=int, help="SLURM CPUs per rank")
    p.add_argument("--sbatch-arg", action="append", help="one more #SBATCH line (repeatable)")
    c = sub.add_parser("collect", help="print the ranks' results of a finished job folder")
    c.add_argument("folder", type=Path)
    c.add_argument("--serial", action="store_true", help="train serially here and compare")
    args = parser.parse_args(argv)
    try:
        if args.command == "prepare":
            print(prepare(args))
        else:
            print(json.dumps(collect(args.folder, args.serial), indent=1))
    except FFBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
