"""One command for a GPU machine: install, check and measure the suite, and write a report.

    python bench/gpu_check.py --prepare          # on a machine that has the data: pack it
    python bench/gpu_check.py                    # on the GPU machine (no internet needed)
    python bench/gpu_check.py --device cpu --recipe quick   # the same path on a CPU

``--prepare`` gzips MNIST's and FashionMNIST's canonical idx files from the data root into
``gpu_data/`` inside the checkout (git-ignored, about 41 MB), so that the checkout carries them.
The run installs the checkout without dependencies into the running Python (which must already
have torch, torchvision, pytest, pytest-benchmark, rich and nvidia-ml-py), unpacks the data into
``gpu_data/root``, runs ``pytest bench/`` with the recipe for ``ff`` and ``bp`` on both datasets in
each configuration (fp32 first, then the precision/compile options the device offers), checks
every case's numbers for sanity (CUDA-event compute <= end to end, energy > 0, mean power below
the board's power limit, allocator peak > 0), and writes ``reports/<device>-<recipe>/``: the saved
runs, ``ff-bench report``'s tables and figures, and ``gpu_check.md`` (checks, best options per
method, the command). With ``--out DIR`` a tarball of that folder is also written to DIR.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ff_algos.record import CaseRecord

REPO = Path(__file__).resolve().parent.parent
PACKED = REPO / "gpu_data"
DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CUDA_CONFIGS = {  # name -> --set overrides; fp32 first: the study's arithmetic
    "fp32": (),
    "bf16-cudagraphs": ("precision=bf16", "compile=cudagraphs"),
    "tf32-cudagraphs": ("precision=tf32", "compile=cudagraphs"),
    "bf16-inductor": ("precision=bf16", "compile=inductor"),
    "tf32-inductor": ("precision=tf32", "compile=inductor"),
}
CPU_CONFIGS = {"fp32": (), "bf16": ("precision=bf16",)}


def prepare(data_root: Path) -> None:
    """Gzip the idx files of both datasets from ``data_root`` into ``gpu_data/``."""
    for folder in DATASETS.values():
        for name in IDX_FILES:
            src = data_root / folder / "raw" / name
            if not src.is_file():
                sys.exit(
                    f"gpu_check: {src} is missing; run `ff-bench data fetch mnist fashion_mnist`"
                )
            dst = PACKED / folder / f"{name}.gz"
            dst.parent.mkdir(parents=True, exist_ok=True)
            with src.open("rb") as fin, gzip.open(dst, "wb", compresslevel=6) as fout:
                shutil.copyfileobj(fin, fout)
    size = sum(p.stat().st_size for p in PACKED.rglob("*.gz"))
    print(f"gpu_check: packed {size / 2**20:.1f} MiB into {PACKED}")


def unpack() -> Path:
    """The packed files unpacked into ``gpu_data/root`` in torchvision's layout."""
    root = PACKED / "root"
    for folder in DATASETS.values():
        for name in IDX_FILES:
            src, dst = PACKED / folder / f"{name}.gz", root / folder / "raw" / name
            if dst.is_file():
                continue
            if not src.is_file():
                sys.exit(
                    f"gpu_check: {src} is missing; run `python bench/gpu_check.py --prepare` first"
                )
            dst.parent.mkdir(parents=True, exist_ok=True)
            with gzip.open(src, "rb") as fin, dst.open("wb") as fout:
                shutil.copyfileobj(fin, fout)
    return root


def install() -> str:
    """Install the checkout without dependencies; fall back to PYTHONPATH if pip cannot."""
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run([*cmd, "--no-index", "-e", str(REPO)], capture_output=True, text=True)
    if done.returncode == 0:
        return "pip install --no-deps -e ."
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )
    return f"PYTHONPATH (pip failed: {done.stderr.strip().splitlines()[-1:]})"


def slug(text: str) -> str:
    """``NVIDIA H100 80GB HBM3`` -> ``nvidia-h100-80gb-hbm3``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def run_config(
    name: str, sets: tuple[str, ...], args: argparse.Namespace, root: Path, storage: Path, log: Path
) -> int:
    """One ``pytest bench/`` session for ``ff`` and ``bp`` on both datasets."""
    cmd = [
        sys.executable, "-m", "pytest", str(REPO / "bench"), "-p", "no:cacheprovider", "-q",
        "--recipe", args.recipe, "--datasets", ",".join(DATASETS), "--methods", "ff,bp",
        "--device", args.device, "--data-root", str(root),
        "--benchmark-storage", str(storage), "--benchmark-save", f"{args.recipe}-{name}",
        "--journal", str(storage / f"journal-{name}.jsonl"),
    ]  # fmt: skip
    for s in sets:
        cmd += ["--set", s]
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        try:
            code = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, timeout=args.config_timeout
            ).returncode
        except subprocess.TimeoutExpired:
            out.write(f"\ngpu_check: {name} stopped after {args.config_timeout} s\n")
            code = 124
    print(f"gpu_check: {name}: exit {code} in {time.perf_counter() - started:.0f} s", flush=True)
    return code


def cases(storage: Path) -> list[tuple[str, CaseRecord]]:
    """(run file name, record) of every fit case saved under ``storage``."""
    from ff_algos.record import READABLE_SCHEMAS, CaseRecord  # installed by then

    found = []
    for path in sorted(storage.glob("*/*.json")):
        for bench in json.loads(path.read_text())["benchmarks"]:
            info = bench["extra_info"]
            if info.get("schema") in READABLE_SCHEMAS:
                found.append((path.stem, CaseRecord.from_extra_info(info)))
    return found


def sanity(rec: CaseRecord, cuda: bool, limit_w: float | None) -> list[str]:
    """Failed sanity checks of one case (empty when all pass)."""
    bad = []
    if rec.compute.total > rec.seconds.end_to_end:
        total, e2e = rec.compute.total, rec.seconds.end_to_end
        bad.append(f"compute {total:.3f} s > end to end {e2e:.3f} s")
    if cuda:
        joules = rec.energy.joules
        if not joules or joules <= 0:
            bad.append(f"energy {joules} J is not positive ({rec.reason('energy.joules')})")
        mean_w = rec.power.mean_w
        if mean_w is None or (limit_w is not None and mean_w >= limit_w):
            bad.append(f"mean power {mean_w} W not below the board limit {limit_w} W")
        peak = rec.memory.torch_peak_bytes.train
        if not peak or peak <= 0:
            bad.append(f"allocator peak {peak} is not positive")
    return bad


def power_limit_w() -> float | None:
    """The board's enforced power limit from NVML, in watts (None where unreadable)."""
    try:
        import pynvml

        pynvml.nvmlInit()
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        return float(pynvml.nvmlDeviceGetEnforcedPowerLimit(handle)) / 1000.0
    except Exception:
        return None


def write_summary(
    folder: Path, rows: list[tuple[str, CaseRecord]], cuda: bool, header: list[str]
) -> bool:
    """``gpu_check.md``: every case with its checks, and the best configuration per method."""
    limit = power_limit_w() if cuda else None
    lines = [*header, "", f"Board power limit (NVML): {limit} W", ""]
    columns = [
        "run",
        "dataset",
        "method",
        "precision",
        "compile",
        "test_acc",
        "compute_s",
        "train_s",
        "e2e_s",
        "compile_s",
        "energy_J",
        "mean_W",
        "checks",
    ]
    lines += ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    ok = True
    best: dict[tuple[str, str], tuple[float, str]] = {}
    for run, rec in rows:
        opts, recipe = rec.options, rec.recipe
        bad = sanity(rec, cuda, limit)
        ok = ok and not bad
        compute = rec.compute.total
        key = (rec.dataset, rec.method)
        if key not in best or compute < best[key][0]:
            best[key] = (compute, run)
        energy, mean_w = rec.energy.joules, rec.power.mean_w
        cells = [
            run,
            rec.dataset,
            rec.method,
            recipe.get("precision", "fp32"),
            recipe.get("compile", "none"),
            f"{rec.accuracy.test:.4f}",
            f"{compute:.3f}",
            f"{rec.seconds.train:.3f}",
            f"{rec.seconds.end_to_end:.3f}",
            f"{opts.get('compile_seconds', 0.0):.2f}",
            "n/a" if energy is None else f"{energy:.1f}",
            "n/a" if mean_w is None else f"{mean_w:.1f}",
            "ok" if not bad else "; ".join(bad),
        ]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    lines += [
        "",
        "Fastest training compute (CUDA events / perf_counter) per dataset and method:",
        "",
    ]
    for (dataset, method), (seconds, run) in sorted(best.items()):
        lines.append(f"- {dataset} {method}: {seconds:.3f} s ({run})")
    lines += ["", f"All sanity checks passed: {ok}"]
    (folder / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(best) - 4 :]))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--prepare", action="store_true", help="pack the data into gpu_data/ and stop"
    )
    parser.add_argument(
        "--data-root", type=Path, default=None, help="where --prepare reads the data"
    )
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--recipe", default="seed", help="seed (default) or quick")
    parser.add_argument(
        "--configs", default=None, help="comma-separated configurations (default: all)"
    )
    parser.add_argument(
        "--config-timeout", type=float, default=240.0, help="seconds per configuration (240)"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="also write a tarball of the report here"
    )
    args = parser.parse_args()
    if args.prepare:
        from ff_algos.data import resolve_root

        prepare(resolve_root(args.data_root))
        return 0
    import torch

    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        sys.exit("gpu_check: CUDA is not available; pass --device cpu to check the CPU path")
    device_name = torch.cuda.get_device_name(torch.device(args.device)) if cuda else "cpu"
    how = install()
    root = unpack()
    configs = CUDA_CONFIGS if cuda else CPU_CONFIGS
    chosen = args.configs.split(",") if args.configs else list(configs)
    unknown = [c for c in chosen if c not in configs]
    if unknown:
        sys.exit(f"gpu_check: unknown --configs {unknown}; choose from {', '.join(configs)}")
    folder = REPO / "reports" / f"{slug(device_name)}-{args.recipe}"
    if folder.exists():
        folder = folder.with_name(
            f"{folder.name}-{time.strftime('%Y%m%d-%H%M%S')}"
        )  # never overwrite
    storage = folder / "runs"
    storage.mkdir(parents=True)
    log = folder / "gpu_check.log"
    started = time.perf_counter()
    codes = {name: run_config(name, configs[name], args, root, storage, log) for name in chosen}
    saved = [str(p) for p in sorted(storage.glob("*/*.json"))]
    if saved:
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
            subprocess.run(report, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    header = [
        f"# GPU check: {device_name}, recipe {args.recipe}",
        "",
        f"Command: `python bench/gpu_check.py --device {args.device} --recipe {args.recipe}"
        + (f" --configs {args.configs}`" if args.configs else "`"),
        f"torch {torch.__version__}, CUDA {torch.version.cuda}, install: {how}",
        f"Sessions (pytest exit codes): {codes}; total {time.perf_counter() - started:.0f} s",
    ]
    ok = write_summary(folder, cases(storage), cuda, header)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with tarfile.open(args.out / "gpu_check.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname=folder.name)
    print(f"gpu_check: report in {folder}")
    return 0 if ok and not any(codes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
