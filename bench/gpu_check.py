"""One command for a GPU machine: run every part of the suite once, check its numbers, report.

    python bench/gpu_check.py --prepare          # on a machine that has the data: pack it
    python bench/gpu_check.py                    # on the GPU machine (no internet needed)
    python bench/gpu_check.py --device cpu --recipe tiny   # the same sessions and checks on a CPU

``--prepare`` gzips MNIST's canonical idx files (every session trains on MNIST) from the data
root into ``gpu_data/`` inside the checkout (git-ignored, about 11 MB), so that the checkout
carries them. The run installs the checkout without dependencies into the running Python
(which must already have torch, torchvision, pytest, pytest-benchmark, rich and nvidia-ml-py;
``--no-install`` puts the checkout on ``PYTHONPATH`` instead), unpacks the data (or reads
``--data-root``) and runs these ``pytest bench/`` sessions on MNIST, safest first, under one
global deadline (``--deadline``, seconds from the start; a session still running then is
stopped and what its journal holds still counts):

1. ``methods``: every registered method, the recipe (``quick``; ``tiny`` for a smoke run), fp32
   eager, learning curves on carved validation rows (``--val-size``), held memory; on a machine
   with fewer GPUs than the parallel methods' ranks (NCCL needs one per rank), those run a world
   of as many ranks as there are GPUs (``--set world=1`` on one: in process);
2. ``pair``: ``ff`` and ``bp`` at the study's ``seed`` scale (the recipe itself for ``tiny``);
3. ``long``: ``bp`` with more epochs, so that its windows last seconds and its energy means
   something;
   with the depth/batch scaling benchmark for ``ff`` and ``bp`` at the same scale;
4. ``sweep``: a two-shard local ``ff-bench sweep`` pinned by ``CUDA_VISIBLE_DEVICES``;
5. one session per execution mode the device offers (``bf16``, ``tf32``, ``cudagraphs``,
   ``inductor``), each with the methods whose recipe accepts it, riskiest last. On a CPU the mode
   sessions train ``ff`` and ``bp`` only, and ``inductor`` only ``bp`` (a CPU compile takes
   seconds per graph).

Then every case is checked (a named pass, fail or not-applicable each; checks that need CUDA
are not applicable on a CPU) and ``gpu_check.md`` (provenance: commit, dirty flag, command line,
wall time, device; sessions; checks; cases) and ``checks.json`` (the same, machine-readable)
are written to ``reports/<device>-<recipe>/`` (``--folder``) with the saved runs and the
report. The checks: CUDA-event compute <= train - compile - curve evaluation and not
implausibly below it; curve seconds increasing with the last point at the compute total;
energies only for windows at least the counter's shortest measurable window; train energy
over train seconds within 15% of the mean power; prediction peak <= training peak; data-window
peak flat across a session; held parameter bytes equal to the parameters (``ff``, ``bp``);
recorded precision equal to the requested one (and TF32 in force exactly when asked); captured
(``cudagraphs``) and eager runs of one recipe equal to 1e-5 in loss and accuracy; the scaling
points' parameters and allocator peaks; the sweep's shards complete and disjoint. Exit status
0 when nothing failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ff_algos.record import CaseRecord, ScalingPoint

REPO = Path(__file__).resolve().parent.parent
PACKED = REPO / "gpu_data"
DATASETS = {"mnist": "MNIST"}  # what the sessions train on, and all that --prepare packs
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
PASS, FAIL, NA = "pass", "fail", "not applicable"
MiB = 2**20
DATA_PEAK_SLACK = 2 * MiB  # data-window peaks of one session may differ by this much
POWER_TOLERANCE = 0.15  # train energy / train seconds vs mean power
MIN_POWER_SAMPLES = 20  # fewer samples give no mean power worth comparing
EQUAL_TOLERANCE = 1e-5  # captured vs eager loss and accuracy
FINISHED = ("passed", "below_floor", "no_floor")
# execution modes: name -> (--set overrides, needs CUDA)
MODES: dict[str, tuple[tuple[str, ...], bool]] = {
    "bf16": (("precision=bf16",), False),
    "tf32": (("precision=tf32",), True),
    "cudagraphs": (("compile=cudagraphs",), True),
    "inductor": (("compile=inductor",), False),  # riskiest (compile time): last
}
CPU_MODE_METHODS = {"inductor": ("bp",)}  # on a CPU; other modes: ff and bp
CPU_DEFAULT_METHODS = ("ff", "bp")


# ---------------------------------------------------------------- data and installation


def prepare(data_root: Path) -> None:
    """Gzip the idx files of the checked datasets from ``data_root`` into ``gpu_data/``."""
    for folder in DATASETS.values():
        for name in IDX_FILES:
            src = data_root / folder / "raw" / name
            if not src.is_file():
                sys.exit(
                    f"gpu_check: {src} is missing; run `ff-bench data fetch {' '.join(DATASETS)}`"
                )
            dst = PACKED / folder / f"{name}.gz"
            dst.parent.mkdir(parents=True, exist_ok=True)
            with src.open("rb") as fin, gzip.open(dst, "wb", compresslevel=6) as fout:
                shutil.copyfileobj(fin, fout)
    size = sum(p.stat().st_size for p in PACKED.rglob("*.gz"))
    print(f"gpu_check: packed {size / 2**20:.1f} MiB into {PACKED}")


def data_root(given: Path | None) -> Path:
    """``given``; else the packed files unpacked into ``gpu_data/root``; else the default root
    when MNIST is there."""
    if given is not None:
        return given
    root = PACKED / "root"
    if all((PACKED / f / f"{n}.gz").is_file() for f in DATASETS.values() for n in IDX_FILES):
        for folder in DATASETS.values():
            for name in IDX_FILES:
                src, dst = PACKED / folder / f"{name}.gz", root / folder / "raw" / name
                if not dst.is_file():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    with gzip.open(src, "rb") as fin, dst.open("wb") as fout:
                        shutil.copyfileobj(fin, fout)
        return root
    from ff_algos.data import is_present, resolve_root

    default = resolve_root(None)
    if is_present("mnist", default):
        return default
    sys.exit(
        "gpu_check: no data: run `python bench/gpu_check.py --prepare` where the data is, "
        "or pass --data-root"
    )


def install(no_install: bool) -> str:
    """Install the checkout without dependencies (or put it on PYTHONPATH)."""
    if not no_install:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
        done = subprocess.run([*cmd, "--no-index", "-e", str(REPO)], capture_output=True, text=True)
        if done.returncode == 0:
            return "pip install --no-deps -e ."
        why = f"pip failed: {done.stderr.strip().splitlines()[-1:]}"
    else:
        why = "--no-install"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )
    return f"PYTHONPATH ({why})"


def slug(text: str) -> str:
    """``NVIDIA H100 80GB HBM3`` -> ``nvidia-h100-80gb-hbm3``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------- sessions


@dataclass
class Session:
    """One subprocess of the check: a ``pytest bench/`` session or the sweep."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    journal: Path | None = None
    cap_s: float | None = None  # at most this long (besides the global deadline)
    exit_code: int | None = None
    seconds: float = 0.0
    stopped: str | None = None  # why it was stopped early (deadline), None: it ended


def suite_session(
    name: str,
    args: argparse.Namespace,
    root: Path,
    storage: Path,
    methods: Sequence[str],
    recipe: str,
    sets: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> Session:
    """``pytest bench/`` for ``methods`` on MNIST, saving to ``storage``, journaling its cases."""
    journal = storage / f"journal-{name}.jsonl"
    argv = [
        sys.executable, "-m", "pytest", str(REPO / "bench"), "-p", "no:cacheprovider", "-q",
        "--recipe", recipe, "--datasets", "mnist", "--methods", ",".join(methods),
        "--device", args.device, "--data-root", str(root),
        "--benchmark-storage", str(storage), "--benchmark-save", f"check-{name}",
        "--journal", str(journal),
    ]  # fmt: skip
    for s in sets:
        argv += ["--set", s]
    return Session(name, [*argv, *extra], journal=journal)


def run_session(session: Session, deadline: float, log: Path) -> None:
    """Run ``session`` until it ends, its cap or the global ``deadline`` (perf_counter time);
    a stopped session's process group is killed (the sweep's workers with it)."""
    started = time.perf_counter()
    budget = deadline - started
    if session.cap_s is not None:
        budget = min(budget, session.cap_s)
    if budget <= 1.0:
        session.stopped = "not started: the deadline had passed"
        print(f"gpu_check: {session.name}: {session.stopped}", flush=True)
        return
    with log.open("a") as out:
        out.write(f"\n$ {shlex.join(session.argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            session.argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=os.environ | session.env,
            start_new_session=True,
        )
        try:
            session.exit_code = proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            session.stopped = f"stopped after {budget:.0f} s (deadline)"
            out.write(f"\ngpu_check: {session.name} {session.stopped}\n")
    session.seconds = time.perf_counter() - started
    state = session.stopped or f"exit {session.exit_code}"
    print(f"gpu_check: {session.name}: {state} in {session.seconds:.0f} s", flush=True)


def journal_lines(path: Path | None) -> list[dict[str, Any]]:
    """The journal's records (a line cut by a kill is skipped)."""
    if path is None or not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


# ---------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """One named check of one case (or session): pass, fail or not applicable, and why."""

    name: str
    subject: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class Case:
    """A finished case read from a journal."""

    session: str
    record: CaseRecord

    @property
    def label(self) -> str:
        r = self.record
        return f"{self.session}/{r.dataset}/{r.method}/seed{r.seed}"


def _check(name: str, subject: str, ok: bool, detail: str) -> Check:
    return Check(name, subject, PASS if ok else FAIL, detail)


def compute_checks(case: Case) -> list[Check]:
    """Compute within the training window less compiling and curve evaluation, and not far
    below it; the curve's seconds increasing and ending at the compute total."""
    r, s = case.record, case.label
    compile_s = float(r.options.get("compile_seconds", 0.0) or 0.0)
    eval_s = r.curve.eval_seconds if r.curve is not None else 0.0
    room = r.seconds.train - compile_s - eval_s
    total = r.compute.total
    detail = (
        f"compute {total:.4f} s ({r.compute.timer}); train {r.seconds.train:.4f} s - compile "
        f"{compile_s:.4f} s - curve evaluation {eval_s:.4f} s = {room:.4f} s"
    )
    checks = [_check("compute_within_train", s, total <= room * (1 + 1e-3) + 1e-3, detail)]
    if room < 1.0:
        checks.append(Check("compute_not_implausibly_low", s, NA, f"{detail}: under 1 s"))
    elif r.parallel is not None:  # the window also starts the world and trains the references
        reason = f"{detail}: a multi-process case's training window also launches its world and "
        reason += "trains its serial references"
        checks.append(Check("compute_not_implausibly_low", s, NA, reason))
    else:
        checks.append(_check("compute_not_implausibly_low", s, total >= 0.25 * room, detail))
    if r.curve is None or not r.curve.points:
        checks.append(Check("curve_seconds", s, NA, r.reason("curve") or "no curve"))
    else:
        seconds = [p.seconds for p in r.curve.points]
        rising = all(b > a for a, b in itertools.pairwise(seconds))
        last = math.isclose(seconds[-1], total, rel_tol=1e-6, abs_tol=1e-9)
        checks.append(
            _check(
                "curve_seconds",
                s,
                rising and last,
                f"points at {[f'{x:.4g}' for x in seconds]} s; compute {total:.6g} s",
            )
        )
    return checks


def energy_checks(case: Case) -> list[Check]:
    """Energies only for windows at least the counter's shortest; energy over seconds near the
    mean power."""
    r, s = case.record, case.label
    e = r.energy
    windows: list[tuple[str, float | None, float | None, float | None]] = [
        ("train", e.joules, r.seconds.train, e.min_window_s),
        ("predict_test", e.predict_test_joules, r.seconds.predict_test, e.min_window_s),
        ("cpu train", e.cpu_package_joules, r.seconds.train, e.cpu_min_window_s),
    ]
    for phase, joules in e.by_phase.items():
        windows.append((f"phase {phase}", joules.gpu_j, joules.seconds, e.min_window_s))
    measured = [(w, j, sec, m) for w, j, sec, m in windows if j is not None]
    checks = []
    if not measured:
        checks.append(Check("energy_windows", s, NA, "no energy measured (no counter)"))
    else:
        bad = [
            f"{w}: {j:.4g} J in {sec:.4g} s < {m:.4g} s"
            for w, j, sec, m in measured
            if m is None or sec is None or sec < m or j <= 0
        ]
        shown = ", ".join(f"{w} {j:.4g} J" for w, j, _, _ in measured)
        checks.append(_check("energy_windows", s, not bad, "; ".join(bad) or shown))
    if e.joules is None or r.power.mean_w is None or r.seconds.train <= 0:
        checks.append(Check("energy_matches_power", s, NA, r.reason("energy.joules") or "no power"))
    elif r.power.samples < MIN_POWER_SAMPLES:
        detail = f"{r.power.samples} power samples: too few for a mean to compare"
        checks.append(Check("energy_matches_power", s, NA, detail))
    else:
        implied = e.joules / r.seconds.train
        close = abs(implied - r.power.mean_w) <= POWER_TOLERANCE * r.power.mean_w
        detail = f"{implied:.1f} W from energy vs {r.power.mean_w:.1f} W mean sampled"
        checks.append(_check("energy_matches_power", s, close, detail))
    return checks


def memory_checks(case: Case, cuda: bool) -> list[Check]:
    """Prediction peak within the training peak; held parameters equal the network's."""
    r, s = case.record, case.label
    peaks = r.memory.torch_peak_bytes
    checks = []
    if not cuda or peaks.train is None or peaks.predict_test is None:
        checks.append(Check("predict_peak_le_train", s, NA, "no allocator peaks (not CUDA)"))
    else:
        detail = f"predict {peaks.predict_test / MiB:.1f} MiB, train {peaks.train / MiB:.1f} MiB"
        checks.append(_check("predict_peak_le_train", s, peaks.predict_test <= peaks.train, detail))
    expected = expected_parameter_bytes(r)
    held = r.memory.held
    if held is None or expected is None:
        why = "not measured" if held is None else f"no closed form for {r.method}'s parameters"
        checks.append(Check("held_parameter_bytes", s, NA, why))
    else:
        detail = f"held {held.parameter_bytes} B, the network's {expected} B"
        checks.append(_check("held_parameter_bytes", s, held.parameter_bytes == expected, detail))
    return checks


def expected_parameter_bytes(r: CaseRecord) -> int | None:
    """The parameter bytes the held-memory meter must see for ``ff`` (its largest layer: one
    optimiser per layer) and ``bp`` (every layer and the head: one optimiser); None otherwise."""
    hidden = r.recipe.get("hidden")
    if r.method not in ("ff", "bp") or not isinstance(hidden, list | tuple):
        return None
    dims = [784, *[int(h) for h in hidden]]
    layers = [(i + 1) * o for i, o in itertools.pairwise(dims)]
    if r.method == "ff":
        return 4 * max(layers)
    return 4 * (sum(layers) + (dims[-1] + 1) * 10)


def precision_check(case: Case, cuda: bool) -> Check:
    """The precision recorded equals the one asked for; on CUDA TF32 is on exactly for tf32."""
    from ff_algos.telemetry.matmul_precision import effective_tf32

    r, s = case.record, case.label
    asked = str(r.recipe.get("precision", "fp32"))
    state = dict(r.precision or {})
    recorded = state.get("precision"), r.options.get("precision", asked)
    detail = f"asked {asked}, recorded {recorded[0]} (options: {recorded[1]})"
    ok = recorded == (asked, asked)
    if cuda:
        tf32, _ = effective_tf32(state, cuda=True)
        detail += f", TF32 in force: {tf32}"
        ok = ok and tf32 == (asked == "tf32")
    return _check("precision_recorded", s, ok, detail)


def data_peak_checks(cases: Sequence[Case], cuda: bool) -> list[Check]:
    """Within one session, every case's data-window allocator peak is the same (per dataset):
    nothing a case leaves behind (a capture's stream pool) creeps into the next."""
    checks = []
    groups: dict[tuple[str, str], list[int]] = {}
    for c in cases:
        peak = c.record.memory.torch_peak_bytes.data
        if peak is not None:
            groups.setdefault((c.session, c.record.dataset), []).append(peak)
    sessions = sorted({c.session for c in cases})
    for session in sessions:
        peaks = [p for (name, _), ps in groups.items() if name == session for p in ps]
        if not cuda or not peaks:
            checks.append(Check("data_peak_flat", session, NA, "no allocator peaks (not CUDA)"))
            continue
        spread = max(
            max(ps) - min(ps) for (name, _), ps in groups.items() if name == session and ps
        )
        detail = f"{len(peaks)} cases, spread {spread / MiB:.2f} MiB"
        checks.append(_check("data_peak_flat", session, spread <= DATA_PEAK_SLACK, detail))
    return checks


def captured_checks(cases: Sequence[Case], cuda: bool) -> list[Check]:
    """A cudagraphs run equals the fp32 eager run of the same recipe (losses and accuracies to
    1e-5): capture and replay change how the work is launched, not what it computes."""
    eager = {
        (c.record.dataset, c.record.method, c.record.seed): c.record
        for c in cases
        if c.session == "methods"
    }
    checks = []
    captured = [c for c in cases if c.record.recipe.get("compile") == "cudagraphs"]
    if not cuda or not captured:
        return [Check("captured_equals_eager", "cudagraphs", NA, "no captured runs (not CUDA)")]
    for c in captured:
        base = eager.get((c.record.dataset, c.record.method, c.record.seed))
        if base is None:
            checks.append(Check("captured_equals_eager", c.label, NA, "no eager run to match"))
            continue
        diffs = {
            f"loss {k}": abs(v - base.losses_final.get(k, math.inf))
            for k, v in c.record.losses_final.items()
        }
        diffs["test accuracy"] = abs(c.record.accuracy.test - base.accuracy.test)
        diffs["train accuracy"] = abs(c.record.accuracy.train - base.accuracy.train)
        worst = max(diffs.items(), key=lambda kv: kv[1])
        detail = f"largest difference: {worst[0]} {worst[1]:.3g}"
        checks.append(_check("captured_equals_eager", c.label, worst[1] <= EQUAL_TOLERANCE, detail))
    return checks


def scaling_checks(points: Sequence[ScalingPoint], cuda: bool) -> list[Check]:
    """The scaling points' parameters are their networks' and their allocator peaks positive on
    CUDA (measured above each epoch's start)."""
    if not points:
        return [Check("scaling_points", "scaling", FAIL, "no scaling point was journaled")]
    checks = []
    for p in points:
        subject = f"scaling/{p.algorithm}/depth{p.depth}/batch{p.batch}"
        dims = [784, *([p.width] * p.depth)]
        expected = 4 * (sum((i + 1) * o for i, o in itertools.pairwise(dims)))
        expected += 4 * (p.width + 1) * 10
        detail = f"{p.parameter_bytes} B, the network's {expected} B"
        checks.append(
            _check("scaling_parameter_bytes", subject, p.parameter_bytes == expected, detail)
        )
        if not cuda:
            checks.append(Check("scaling_allocator_peak", subject, NA, "not CUDA"))
        else:
            peak = p.allocator_peak_bytes
            ok = peak is not None and peak > 0 and p.allocator_peak_basis == "above_start"
            checks.append(_check("scaling_allocator_peak", subject, ok, f"{peak} B above start"))
    return checks


def sweep_checks(folder: Path, session: Session) -> list[Check]:
    """The sweep's merged run holds every case once, from both shards."""
    if session.stopped is not None:
        return [Check("sweep_merged", "sweep", NA, session.stopped)]
    runs = sorted((folder / "sweep-runs").glob("*/*.json"))
    if session.exit_code != 0 or not runs:
        detail = f"exit {session.exit_code}, merged runs {len(runs)} (see gpu_check.log)"
        return [Check("sweep_merged", "sweep", FAIL, detail)]
    names = [b["name"] for b in json.loads(runs[-1].read_text())["benchmarks"]]
    shard_logs = sorted((folder / "sweep").glob("shard-*"))
    ok = len(names) == len(set(names)) >= 2 and len(shard_logs) == 2
    detail = f"{len(names)} cases merged, {len(set(names))} distinct, {len(shard_logs)} shards"
    return [_check("sweep_merged", "sweep", ok, detail)]


def session_checks(
    sessions: Sequence[Session], lines: Mapping[str, list[dict[str, Any]]]
) -> list[Check]:
    """Each session ended cleanly (a stop at the deadline is not applicable, not a pass), and
    none of its cases errored or ran out of memory."""
    checks = []
    for sess in sessions:
        if sess.stopped is not None:
            done = sum(1 for r in lines.get(sess.name, []) if r.get("status") in FINISHED)
            checks.append(Check("session_ended", sess.name, NA, f"{sess.stopped}; {done} cases"))
        else:
            checks.append(
                _check("session_ended", sess.name, sess.exit_code == 0, f"exit {sess.exit_code}")
            )
        for rec in lines.get(sess.name, []):
            if rec.get("status") not in (*FINISHED, None):
                subject = f"{sess.name}/{rec.get('nodeid', '?')}"
                checks.append(Check("case_ran", subject, FAIL, str(rec.get("error", ""))[:300]))
    return checks


def all_checks(
    sessions: Sequence[Session], folder: Path, cuda: bool
) -> tuple[list[Check], list[Case]]:
    """Every check over what the sessions' journals hold."""
    from ff_algos.record import CaseRecord, ScalingPoint

    lines = {s.name: journal_lines(s.journal) for s in sessions}
    cases: list[Case] = []
    points: list[ScalingPoint] = []
    for name, records in lines.items():
        for rec in records:
            info = rec.get("extra_info")
            if rec.get("status") not in FINISHED or not isinstance(info, dict):
                continue
            if rec.get("kind") == "scaling":
                points.append(ScalingPoint.from_extra_info(info))
            else:
                cases.append(Case(name, CaseRecord.from_extra_info(info)))
    checks = session_checks(sessions, lines)
    for case in cases:
        checks += compute_checks(case)
        checks += energy_checks(case)
        checks += memory_checks(case, cuda)
        checks.append(precision_check(case, cuda))
    checks += data_peak_checks(cases, cuda)
    checks += captured_checks(cases, cuda)
    if any(s.name == "pair" and s.stopped is None for s in sessions):
        checks += scaling_checks(points, cuda)
    for sess in sessions:
        if sess.name == "sweep":
            checks += sweep_checks(folder, sess)
    return checks, cases


# ---------------------------------------------------------------- provenance and output


def provenance(args: argparse.Namespace, device_name: str, how: str) -> dict[str, Any]:
    """What ran, where, from which commit: written by the check itself into its own files."""
    import torch

    from ff_algos.telemetry.machine import cpu_model, git_state

    code = git_state(REPO)
    return {
        "commit": code.commit,
        "dirty": code.dirty,
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "device": args.device,
        "device_name": device_name,
        "cpu": cpu_model(),
        "cpu_threads": os.cpu_count(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "install": how,
        "deadline_s": args.deadline,
    }


def power_limit_w(device: str) -> float | None:
    """The board's enforced power limit from NVML for torch's ``device``, matched through
    ``CUDA_VISIBLE_DEVICES`` like the telemetry (None where unreadable)."""
    import torch

    from ff_algos.telemetry.nvml import find_cuda_gpu, load_nvml, release_nvml
    from ff_algos.telemetry.sync import resolve

    nvml, _ = load_nvml()
    if nvml is None:
        return None
    try:
        gpu, _ = find_cuda_gpu(nvml, resolve(torch.device(device)))
        return None if gpu is None else gpu.power_limit_w()
    except Exception:
        return None
    finally:
        release_nvml(nvml)


def write_text_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file and a rename."""
    from ff_algos.atomic_file import atomic_write

    with atomic_write(path) as out:
        out.write(text.encode())


def write_outputs(
    folder: Path,
    prov: Mapping[str, Any],
    sessions: Sequence[Session],
    checks: Sequence[Check],
    cases: Sequence[Case],
) -> dict[str, int]:
    """``checks.json`` and ``gpu_check.md`` (atomically: temp file, then rename)."""
    counts = {status: sum(c.status == status for c in checks) for status in (PASS, FAIL, NA)}
    data = {
        "provenance": dict(prov),
        "sessions": [
            {k: v for k, v in dataclasses.asdict(s).items() if k not in ("env", "journal")}
            for s in sessions
        ],
        "summary": counts,
        "checks": [dataclasses.asdict(c) for c in checks],
    }
    write_text_atomic(folder / "checks.json", json.dumps(data, indent=2, default=str) + "\n")
    lines = [f"# GPU check: {prov['device_name']} ({prov['device']})", "", "## Provenance", ""]
    lines += [f"- {k}: `{v}`" for k, v in prov.items()]
    lines += ["", "## Sessions", "", "| session | state | seconds |", "|---|---|---|"]
    for s in sessions:
        state = s.stopped or f"exit {s.exit_code}"
        lines.append(f"| {s.name} | {state} | {s.seconds:.0f} |")
    lines += [
        "",
        f"## Checks: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[NA]} not applicable",
        "",
    ]
    failed = [c for c in checks if c.status == FAIL]
    if failed:
        lines += ["Failed:", ""]
        lines += [f"- **{c.name}** {c.subject}: {c.detail}" for c in failed]
        lines.append("")
    lines += ["| check | subject | status | detail |", "|---|---|---|---|"]
    for c in checks:
        detail = c.detail.replace("|", "/")
        lines.append(f"| {c.name} | {c.subject} | {c.status} | {detail} |")
    lines += [
        "",
        "## Cases",
        "",
        "| case | precision | compile | test acc | compute s | train s | compile s | energy J "
        "| epochs J | mean W |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case in cases:
        r = case.record

        def num(value: float | None, digits: int = 3) -> str:
            return "n/a" if value is None else f"{value:.{digits}f}"

        lines.append(
            f"| {case.label} | {r.recipe.get('precision', 'fp32')} | "
            f"{r.recipe.get('compile', 'none')} | {r.accuracy.test:.4f} | "
            f"{r.compute.total:.3f} | {r.seconds.train:.3f} | "
            f"{float(r.options.get('compile_seconds', 0.0) or 0.0):.2f} | "
            f"{num(r.energy.joules, 1)} | {num(r.energy.epochs_joules, 1)} | "
            f"{num(r.power.mean_w, 1)} |"
        )
    write_text_atomic(folder / "gpu_check.md", "\n".join(lines) + "\n")
    return counts


# ---------------------------------------------------------------- the plan


def supported(method: str, mode_sets: Iterable[str], recipe: str) -> bool:
    """Whether ``method``'s ``recipe`` accepts the ``--set`` overrides: parsed as the session
    parses them (a field's type may allow fewer values than the validation), then validated."""
    from ff_algos import registry
    from ff_algos.data.catalog import dataset_info
    from ff_algos.errors import FFBenchError
    from ff_algos.suite.overrides import apply_overrides

    base = registry.recipe(method, recipe)
    changes = dict(s.split("=", 1) for s in mode_sets)
    names = {f.name for f in dataclasses.fields(base)}
    if not set(changes) <= names:
        return False
    try:
        registry.get(method).validate(apply_overrides(base, changes), dataset_info("mnist"))
    except FFBenchError:
        return False
    return True


def recipe_methods(recipe: str) -> list[str]:
    """The registered methods that offer ``recipe``."""
    from ff_algos import registry

    return [m for m in registry.names() if recipe in registry.get(m).recipes]


def world_cap(device: str, recipe: str, gpus: int) -> tuple[str, ...]:
    """``--set world=N`` for a CUDA ``device`` on a machine with fewer GPUs (``gpus``) than a
    parallel recipe's ranks: NCCL needs a GPU per rank and gloo carries no point-to-point CUDA
    messages, so those methods run a world of as many ranks as there are GPUs (one: in
    process); none otherwise (on a CPU gloo's ranks share the cores)."""
    from ff_algos import registry

    if not device.startswith("cuda"):
        return ()
    worlds = [getattr(registry.recipe(m, recipe), "world", 0) for m in recipe_methods(recipe)]
    return (f"world={max(1, gpus)}",) if max(worlds, default=0) > gpus else ()


def plan(
    args: argparse.Namespace,
    root: Path,
    storage: Path,
    folder: Path,
    capped: Sequence[str] = (),
) -> list[Session]:
    """The sessions, safest first (module doc); ``capped``: :func:`world_cap`'s ``--set``."""
    cuda = args.device.startswith("cuda")
    recipe = args.recipe
    methods = recipe_methods(recipe)
    curve = ["--curve-points", "2", "--val-size", str(args.val_size)]
    seed_scale = "seed" if recipe != "tiny" else recipe
    long_epochs = "60" if recipe != "tiny" else "20"
    fits = ["-k", "not scaling"]
    sessions = [
        suite_session("methods", args, root, storage, methods, recipe, capped, [*curve, *fits]),
        # the scaling benchmark runs with the pair (``pytest bench/`` includes it for ff and bp)
        suite_session("pair", args, root, storage, ("ff", "bp"), seed_scale, extra=curve),
        suite_session(
            "long", args, root, storage, ("bp",), seed_scale, (f"epochs={long_epochs}",), fits
        ),
    ]
    sweep_argv = [
        sys.executable, "-m", "ff_algos", "sweep", "--launcher", "local", "--shards", "2",
        "--recipe", "tiny", "--datasets", "mnist", "--methods", "ff,bp", "--curve-points", "0",
        "--device", args.device, "--data-root", str(root), "--name", "check-sweep",
        "--out", str(folder / "sweep"), "--storage", str(folder / "sweep-runs"), "--poll", "1",
    ]  # fmt: skip
    env = {}
    if cuda:
        env["CUDA_VISIBLE_DEVICES"] = visible_device(args.device)
        sweep_argv[sweep_argv.index("--device") + 1] = "cuda:0"
    else:
        sweep_argv += ["--workers", "2", "--threads", "1"]
    sessions.append(Session("sweep", sweep_argv, env=env))
    for mode, (sets, needs_cuda) in MODES.items():
        if needs_cuda and not cuda:
            continue
        pool = methods if cuda else CPU_MODE_METHODS.get(mode, CPU_DEFAULT_METHODS)
        chosen = [m for m in pool if m in methods and supported(m, sets, recipe)]
        if chosen:
            extra = [*curve, *fits]
            sessions.append(suite_session(mode, args, root, storage, chosen, recipe, sets, extra))
    return sessions


def visible_device(device: str) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` entry of torch's ``device`` (``cuda:N``), so that the
    sweep's workers see that GPU and no other."""
    from ff_algos.telemetry.nvml import visible_entries

    index = int(device.split(":", 1)[1]) if ":" in device else 0
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is None:
        return str(index)
    entries = visible_entries(listed)
    return entries[index] if index < len(entries) else str(index)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prepare", action="store_true", help="pack the data and stop")
    parser.add_argument("--data-root", type=Path, default=None, help="where the data is")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--recipe", default="quick", help="quick (default) or tiny")
    parser.add_argument(
        "--deadline", type=float, default=None, help="seconds for every session (GPU 450, CPU 240)"
    )
    parser.add_argument("--val-size", type=int, default=500, help="carved validation rows (500)")
    parser.add_argument("--folder", type=Path, default=None, help="where to write the results")
    parser.add_argument("--no-install", action="store_true", help="use PYTHONPATH, not pip")
    parser.add_argument("--no-report", action="store_true", help="skip ff-bench report")
    parser.add_argument("--out", type=Path, default=None, help="also write a tarball here")
    args = parser.parse_args()
    if args.prepare:
        from ff_algos.data import resolve_root

        prepare(resolve_root(args.data_root))
        return 0
    wall = time.perf_counter()
    import torch

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("gpu_check: CUDA is not available; pass --device cpu to check the CPU path")
    if args.deadline is None:
        args.deadline = 450.0 if cuda else 240.0
    deadline = wall + args.deadline
    device_name = torch.cuda.get_device_name(torch.device(args.device)) if cuda else "cpu"
    how = install(args.no_install)
    root = data_root(args.data_root)
    folder = args.folder or REPO / "reports" / f"{slug(device_name)}-{args.recipe}"
    if folder.exists() and any(folder.iterdir()):  # never overwrite
        folder = folder.with_name(f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    storage = folder / "runs"
    storage.mkdir(parents=True)
    log = folder / "gpu_check.log"
    prov = provenance(args, device_name, how)
    if cuda:
        prov["board_power_limit_w"] = power_limit_w(args.device)
    gpus = torch.cuda.device_count() if cuda else 0
    cap = world_cap(args.device, args.recipe, gpus)
    sessions = plan(args, root, storage, folder, cap)
    if cuda:
        prov["gpus_visible"] = gpus
        prov["parallel_methods"] = f"--set {cap[0]} (too few GPUs)" if cap else "recipe's world"
    for session in sessions:
        run_session(session, deadline, log)
    saved = [str(p) for p in sorted(storage.glob("*/*.json"))]
    if saved and not args.no_report:
        report = [
            sys.executable,
            "-m",
            "ff_algos",
            "report",
            *saved,
            "--out",
            str(folder / "report"),
        ]
        with log.open("a") as out:
            try:
                subprocess.run(report, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, timeout=120)
            except subprocess.TimeoutExpired:
                out.write("\ngpu_check: ff-bench report stopped after 120 s\n")
    checks, cases = all_checks(sessions, folder, cuda)
    prov["wall_seconds"] = round(time.perf_counter() - wall, 1)
    counts = write_outputs(folder, prov, sessions, checks, cases)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.out / "gpu_check.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
    print(
        f"gpu_check: {counts[PASS]} passed, {counts[FAIL]} failed, {counts[NA]} not applicable "
        f"in {prov['wall_seconds']:.0f} s; results in {folder}"
    )
    return 1 if counts[FAIL] else 0


if __name__ == "__main__":
    sys.exit(main())
