"""``ff-bench merge``: one saved run from the runs of a sweep's shards.

Works on pytest-benchmark's JSON (``machine_info``, ``commit_info``, ``benchmarks[*].name``,
``params`` and ``extra_info["recipe"]``), so the merged file is read by ``ff-bench report``,
``ff-bench compare`` and ``pytest-benchmark compare`` like any other run. The runs must share the
commit, the options (``ff_bench_shard``) and, per method, the recipe apart from its seed and the
gridded fields; a case held twice, or a case of the matrix held by none, is named.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ff_algos.sweep.errors import SweepError
from ff_algos.sweep.shard_stamp import KEY

_NUMBERED = re.compile(r"^(\d{4})_")
_SHOWN = 6  # case names listed in a message


@dataclass(frozen=True)
class Source:
    """One run to merge: its file and its JSON."""

    path: Path
    data: dict[str, Any]


def load_source(path: Path) -> Source:
    """Read one saved run; anything but a pytest-benchmark run is a :class:`SweepError`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SweepError(f"cannot read {path} as a saved run: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise SweepError(f"{path} is not a saved pytest-benchmark run (no 'benchmarks' list)")
    if not isinstance(data.get("machine_info"), dict):
        raise SweepError(f"{path} is not a saved pytest-benchmark run (no 'machine_info')")
    return Source(path, data)


def merge(sources: Sequence[Source], *, allow_missing: bool = False) -> dict[str, Any]:
    """The merged run's JSON; conflicts, duplicates and (unless allowed) missing cases are
    :class:`SweepError`s naming them."""
    if not sources:
        raise SweepError("nothing to merge; name the shards' saved runs or a sweep folder")
    first = sources[0]
    _check_commits(sources)
    options = _check_options(sources)
    benchmarks = _check_cases(sources)
    _check_recipes(benchmarks, options)
    expected = [c for s in sources for c in s.data.get(KEY, {}).get("cases", [])]
    names = {b["name"] for _, b in benchmarks}
    missing = [c for c in dict.fromkeys(expected) if f"test_fit[{c}]" not in names]
    if missing and not allow_missing:
        raise SweepError(
            f"{len(missing)} case(s) of the sweep are in no run: {_names(missing)}; resume the "
            "sweep (ff-bench sweep --resume DIR) or pass --allow-missing"
        )
    order = {f"test_fit[{c}]": i for i, c in enumerate(dict.fromkeys(expected))}
    benchmarks.sort(key=lambda sb: (order.get(sb[1]["name"], len(order)), sb[1]["name"]))
    machine_info = dict(first.data["machine_info"])
    machine_info["ff_bench_machines"] = _machines(sources)
    nodes = list(dict.fromkeys(str(s.data["machine_info"].get("node", "?")) for s in sources))
    machine_info["node"] = ",".join(nodes)
    merged = {k: v for k, v in first.data.items() if k != KEY}
    merged.update(
        machine_info=machine_info,
        datetime=datetime.now(UTC).replace(tzinfo=None).isoformat(),
        benchmarks=[b for _, b in benchmarks],
        ff_bench_merged={
            "options": options,
            "cases": list(dict.fromkeys(expected)),
            "missing": missing,
            "sources": [
                {"file": str(s.path), "shard": s.data.get(KEY, {}).get("shard")} for s in sources
            ],
        },
    )
    return merged


def save_merged(data: dict[str, Any], storage: Path, name: str, machine_id: str) -> Path:
    """Save as ``STORAGE/<machine_id>/<NNNN>_<name>.json`` with the next free number; never
    replaces a file (created exclusively)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise SweepError(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    folder = storage / machine_id
    folder.mkdir(parents=True, exist_ok=True)
    text = (json.dumps(data, indent=4) + "\n").encode()
    while True:
        numbers = [int(m[1]) for p in folder.glob("*.json") if (m := _NUMBERED.match(p.name))]
        path = folder / f"{max(numbers, default=0) + 1:04d}_{name}.json"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue  # another writer took this number: look again
        with os.fdopen(fd, "wb") as fh:
            fh.write(text)
        return path


def machine_id(source: Source) -> str:
    """pytest-benchmark's machine folder name for a run (``Linux-CPython-3.11-64bit``)."""
    parent = source.path.parent.name
    if re.fullmatch(r"[^-/]+-[^-/]+-\d+\.\d+-\d+bit", parent):
        return parent
    info = source.data["machine_info"]
    version = ".".join(str(info.get("python_version", "?")).split(".")[:2])
    bits = (info.get("cpu") or {}).get("bits", 64)
    system, impl = info.get("system", "Unknown"), info.get("python_implementation", "Unknown")
    return f"{system}-{impl}-{version}-{bits}bit"


def _check_commits(sources: Sequence[Source]) -> None:
    seen: dict[tuple[Any, Any], Path] = {}
    for s in sources:
        commit = s.data.get("commit_info") or {}
        seen.setdefault((commit.get("id"), commit.get("dirty")), s.path)
    if len(seen) > 1:
        shown = "; ".join(f"{p} at {c[0]}{' (dirty)' if c[1] else ''}" for c, p in seen.items())
        raise SweepError(f"the runs come from different commits: {shown}; merge runs of one commit")


def _check_options(sources: Sequence[Source]) -> dict[str, Any] | None:
    records = [(s.path, s.data.get(KEY)) for s in sources]
    with_options = [(p, r["options"]) for p, r in records if isinstance(r, dict)]
    if not with_options:
        return None
    if len(with_options) != len(records):
        odd = next(p for p, r in records if not isinstance(r, dict))
        raise SweepError(f"{odd} is not a shard of a sweep (run with --shard); merge shards only")
    path0, options0 = with_options[0]
    for path, options in with_options[1:]:
        if options != options0:
            key = next(k for k in {*options0, *options} if options0.get(k) != options.get(k))
            raise SweepError(
                f"{path} and {path0} ran different options ({key}: {options.get(key)!r} vs "
                f"{options0.get(key)!r}); merge shards of one sweep"
            )
    return dict(options0)


def _check_cases(sources: Sequence[Source]) -> list[tuple[Path, dict[str, Any]]]:
    where: dict[str, Path] = {}
    twice: list[str] = []
    out: list[tuple[Path, dict[str, Any]]] = []
    for s in sources:
        for bench in s.data["benchmarks"]:
            name = str(bench.get("name"))
            if name in where:
                twice.append(f"{name} ({where[name]} and {s.path})")
            where[name] = s.path
            out.append((s.path, bench))
    if twice:
        raise SweepError(f"{len(twice)} case(s) are in two runs: {_names(twice)}; keep one of each")
    return out


def _check_recipes(
    benchmarks: list[tuple[Path, dict[str, Any]]], options: dict[str, Any] | None
) -> None:
    varying = {"seed", *((options or {}).get("grid") or {})}
    first: dict[str, tuple[str, dict[str, Any]]] = {}
    for _, bench in benchmarks:
        recipe = (bench.get("extra_info") or {}).get("recipe")
        if not isinstance(recipe, dict):
            continue
        fixed = {k: v for k, v in recipe.items() if k not in varying}
        method = str(recipe.get("method", "?"))
        name, seen = first.setdefault(method, (bench["name"], fixed))
        if seen != fixed:
            key = next(k for k in {*seen, *fixed} if seen.get(k) != fixed.get(k))
            raise SweepError(
                f"{bench['name']} and {name} ran different {method} recipes ({key}: "
                f"{fixed.get(key)!r} vs {seen.get(key)!r}); merge runs of one recipe"
            )


def _machines(sources: Sequence[Source]) -> list[dict[str, Any]]:
    """Every machine the runs came from, each once, with the runs and cases it ran."""
    machines: dict[str, dict[str, Any]] = {}
    for s in sources:
        info = s.data["machine_info"]
        ff = info.get("ff_bench") or {}
        key = json.dumps([info.get("node"), ff.get("gpu_name"), ff.get("cpu_model")], default=str)
        entry = machines.setdefault(
            key, {"node": info.get("node"), "machine_info": info, "runs": [], "cases": 0}
        )
        entry["runs"].append(str(s.path))
        entry["cases"] += len(s.data["benchmarks"])
    return list(machines.values())


def _names(items: Sequence[str]) -> str:
    more = len(items) - _SHOWN
    return ", ".join(items[:_SHOWN]) + (f" and {more} more" if more > 0 else "")
