"""``ff-bench data``: ``fetch`` datasets into a root and ``list`` what a root holds.

ff-bench data fetch mnist fashion_mnist --data-root /data
ff-bench data list --data-root /data   (--root is an alias)
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ff_algos.data import cache, catalog, formats
from ff_algos.data.loader import is_present, load_dataset
from ff_algos.data.paths import ENV_VAR, resolve_root
from ff_algos.data.progress import RichFileProgress
from ff_algos.data.sources import apt_update, fetch_into


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``data`` command and its ``fetch`` and ``list`` sub-commands."""
    data = subparsers.add_parser("data", help="fetch datasets and list what a data root holds")
    sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    root_help = f"data root (default: ${ENV_VAR}, else ~/.cache/ff-bench/data)"

    fetch = sub.add_parser("fetch", help="make datasets present, verify them and build the cache")
    fetch.add_argument("names", nargs="+", metavar="NAME", help=", ".join(catalog.DATASETS))
    fetch.add_argument(
        "--data-root", "--root", dest="root", type=Path, default=None, help=root_help
    )
    fetch.add_argument(
        "--apt-update",
        action="store_true",
        help="run `apt-get update` first when a Debian-packaged dataset must be fetched "
        "(a fresh machine has no package lists)",
    )
    fetch.set_defaults(run=run_fetch)

    listing = sub.add_parser("list", help="show each dataset: present, location, cache, sizes")
    listing.add_argument(
        "--data-root", "--root", dest="root", type=Path, default=None, help=root_help
    )
    listing.set_defaults(run=run_list)


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch each named dataset, build its cache, then time a first and a cached load."""
    names = [catalog.canonical_name(n) for n in args.names]  # every name checked before work
    root = resolve_root(args.root)
    console = Console()
    if args.apt_update:
        _apt_update(names, root, console)
    timings = []
    with RichFileProgress(console) as display:
        for name in names:
            fetch_into(name, root, display)
            first = load_dataset(name, root=root, progress=display)
            again = load_dataset(name, root=root)
            timings.append((name, first, again))
    table = Table(title=f"Load times under {root} (CPU, whole splits, normalised)")
    for column in ("dataset", "first load", "source", "cached load", "source", "train", "test"):
        table.add_column(column)
    for name, first, again in timings:
        table.add_row(
            name,
            f"{first.load_seconds:.3f} s",
            first.source,
            f"{again.load_seconds:.3f} s",
            again.source,
            str(len(first.train)),
            str(len(first.test)),
        )
    console.print(table)
    return 0


def _apt_update(names: list[str], root: Path, console: Console) -> None:
    """Refresh the package lists once, only when a Debian-packaged dataset is absent."""
    needed = [
        n
        for n in names
        if isinstance(catalog.OFFLINE_SOURCES.get(n), catalog.DebSource) and not is_present(n, root)
    ]
    if not needed or shutil.which("apt-get") is None:
        return
    console.print(f"apt-get update (for {', '.join(needed)})")
    failure = apt_update()
    if failure is not None:
        console.print(f"apt-get update failed ({failure}); trying the fetch anyway")


def _megabytes(paths: list[Path]) -> str:
    total = sum(p.stat().st_size for p in paths if p.is_file())
    return f"{total / 1e6:.1f} MB"


def run_list(args: argparse.Namespace) -> int:
    """Print one row per dataset: present or not, where, cache state and sizes."""
    root = resolve_root(args.root)
    table = Table(title=f"Datasets under {root}")
    for column in ("dataset", "present", "location", "cache", "train/test", "shape", "files"):
        table.add_column(column)
    for name in catalog.DATASETS:
        info = catalog.dataset_info(name)
        folder = formats.dataset_dir(name, root)
        files = [folder / f for f in catalog.LAYOUTS[name].files]
        cache_state = cache.state(name, root)
        if cache_state == "valid":
            cache_state += f" ({_megabytes(list(cache.cache_dir(name, root).iterdir()))})"
        table.add_row(
            name,
            "[green]yes" if is_present(name, root) else "[red]no",
            str(folder),
            cache_state,
            f"{info.train_size}/{info.test_size}",
            "x".join(map(str, info.image_shape)),
            _megabytes(files),
        )
    Console().print(table)
    return 0
