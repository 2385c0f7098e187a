"""Talking to SLURM through its commands: ``sbatch`` submits a job script, ``squeue`` says which
array tasks are still pending or running. No Python dependency: a cluster's own commands.

Interrupting ``ff-bench sweep`` while it follows a submission cancels nothing: the array tasks go
on, and ``ff-bench sweep --status`` / ``--resume`` pick the sweep up again."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from ff_algos.sweep.errors import SweepError


def available() -> bool:
    """Whether ``sbatch`` and ``squeue`` are on PATH."""
    return shutil.which("sbatch") is not None and shutil.which("squeue") is not None


def submit(script: Path) -> str:
    """``sbatch`` the script; returns the job id. A refusal is a :class:`SweepError` with
    SLURM's own message."""
    try:
        done = subprocess.run(
            ["sbatch", "--parsable", str(script)], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise SweepError(
            "sbatch is not on PATH; use --launcher local on a machine without SLURM"
        ) from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise SweepError(
            f"sbatch refused {script}: {reason[-1] if reason else 'no message'}; "
            "check --partition, --time, --account and --sbatch-arg"
        )
    return done.stdout.strip().split(";")[0]


def queue(job: str) -> dict[int, str]:
    """Array task -> ``pending`` or ``running`` for the tasks of ``job`` still in the queue
    (ended or unknown tasks are absent)."""
    done = subprocess.run(
        ["squeue", "--noheader", "--array", "--jobs", job, "--format=%K %T"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:  # the job left the queue and SLURM forgot it
        return {}
    states: dict[int, str] = {}
    for line in done.stdout.splitlines():
        task, _, state = line.strip().partition(" ")
        if task.isdigit():
            states[int(task)] = "pending" if state in ("PENDING", "CONFIGURING") else "running"
    return states
