"""Finding saved pytest-benchmark runs and loading the ff-bench cases they hold.

``pytest bench/ --benchmark-save=NAME`` writes ``STORAGE/<machine-id>/<NNNN>_<NAME>.json``
(storage ``.benchmarks`` unless ``--benchmark-storage`` says otherwise; machine-id like
``Linux-CPython-3.11-64bit``; NNNN counts up per machine folder). A run is named as pytest-benchmark
names them, plus a few conveniences:

* a path to an existing file (any file in the saved layout, ``--benchmark-json`` output too);
* a number, ``0001`` or ``1``: the run with that counter;
* a name: a run whose file name contains it (case-insensitive), or a glob (``quick-*``);
* either of the last two prefixed with a machine folder, ``Linux-CPython-3.11-64bit/0001``.

Several matches in one machine folder with one saved name (the same ``--benchmark-save`` name used
twice) select the latest; matches with different names, or in different machine folders, are an
error that lists them. With no name at all, the latest run is used: the last numbered file in
pytest-benchmark's own order (file name, then folder). In both cases a later file that does not
load (cut short by a full disk, say) is skipped with a note naming it; a run named exactly (by
path or number) that does not load is a one-line error naming the file.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from ff_algos.record import SCALING_SCHEMA, ScalingPoint
from ff_algos.report import machine
from ff_algos.report.cases import Case
from ff_algos.report.errors import BadRunError, RunNotFoundError
from ff_algos.schema import READABLE_SCHEMAS, SCHEMA_VERSION, validate

DEFAULT_STORAGE = Path(".benchmarks")  # pytest-benchmark's default --benchmark-storage
_NUMBERED = re.compile(r"^(?P<number>\d{4})_(?P<name>.+)$")
_MACHINE_ID = re.compile(r"^[^-/]+-[^-/]+-\d+\.\d+-\d+bit$")
_LISTED = 8  # runs named in a "not found" or "ambiguous" message


@dataclass(frozen=True)
class RunRef:
    """Where a saved run lives and what its file name says."""

    path: Path
    machine_id: str | None  # the machine folder it is in, when it is in one
    number: str | None  # "0001"; None for files not named NNNN_NAME.json
    name: str  # the saved name ("quick-a"), or the file's stem

    @property
    def stem(self) -> str:
        """File name without ``.json``."""
        return self.path.stem

    @property
    def label(self) -> str:
        """``Linux-CPython-3.11-64bit/0001_quick-a`` (or the stem when not in a machine folder)."""
        return f"{self.machine_id}/{self.stem}" if self.machine_id else self.stem


def ref_for(path: Path) -> RunRef:
    """The reference of a run file, wherever it is."""
    parent = path.parent.name
    machine = parent if _MACHINE_ID.match(parent) else None
    numbered = _NUMBERED.match(path.stem)
    if numbered:
        return RunRef(path, machine, numbered["number"], numbered["name"])
    return RunRef(path, machine, None, path.stem)


def list_runs(storage: Path) -> list[RunRef]:
    """Every ``*.json`` in the storage folder and its machine folders, in pytest-benchmark's
    order (file name, then folder)."""
    if storage.is_file():
        raise RunNotFoundError(f"--storage {storage} is a file; pass a saved run as RUN instead")
    if not storage.is_dir():
        return []
    files = [p for p in (*storage.glob("*.json"), *storage.glob("*/*.json")) if p.is_file()]
    files.sort(key=lambda p: (p.name, str(p.parent)))
    return [ref_for(p) for p in files]


@dataclass(frozen=True)
class Found:
    """Runs found for some names, and notes on how they were chosen."""

    refs: tuple[RunRef, ...]
    notes: tuple[str, ...]


def find_runs(specs: Sequence[str], storage: Path) -> Found:
    """Resolve each run name (see the module docstring); with no names, the latest run. The
    same run named twice is used once."""
    if not specs:
        ref, skipped = _latest_readable(_numbered(list_runs(storage)), storage)
        return Found((ref,), skipped)
    refs: list[RunRef] = []
    notes: list[str] = []
    for spec in specs:
        ref, note = find_run(spec, storage)
        if note:
            notes.append(note)
        if any(r.path.resolve() == ref.path.resolve() for r in refs):
            notes.append(f"{spec!r} names {ref.label} again; using it once")
            continue
        refs.append(ref)
    return Found(tuple(refs), tuple(notes))


def latest_run(storage: Path) -> RunRef:
    """The latest numbered run in the storage folder."""
    numbered = _numbered(list_runs(storage))
    if not numbered:
        raise RunNotFoundError(_empty(storage))
    return numbered[-1]


def _numbered(refs: Sequence[RunRef]) -> list[RunRef]:
    return [r for r in refs if r.number is not None]


def _latest_readable(pool: Sequence[RunRef], storage: Path) -> tuple[RunRef, tuple[str, ...]]:
    """The last run of ``pool`` that loads, and a note for each later one that does not (a
    file a full disk cut short, a run without ff-bench cases): one unreadable file never hides
    the runs before it."""
    if not pool:
        raise RunNotFoundError(_empty(storage))
    skipped: list[str] = []
    for ref in reversed(pool):
        try:
            load_run(ref)
        except BadRunError as exc:
            skipped.append(f"skipped {ref.path}: {exc}")
            continue
        return ref, tuple(skipped)
    raise BadRunError(f"no readable saved run in {storage}: {'; '.join(skipped[:_LISTED])}")


def find_run(spec: str, storage: Path) -> tuple[RunRef, str | None]:
    """One run by path, number or name, and a note when a choice was made among several."""
    path = Path(spec).expanduser()
    if path.is_file():
        return ref_for(path), None
    if path.is_dir():
        raise RunNotFoundError(
            f"{spec} is a folder, not a saved run; to read runs from it pass --storage {spec}"
        )
    parts = PurePath(spec).parts
    if len(parts) > 2 or not parts:
        raise RunNotFoundError(f"no such saved run file: {spec}")
    machine_glob, pattern = (parts[0], parts[1]) if len(parts) == 2 else ("*", parts[0])
    runs = list_runs(storage)
    if not runs:
        raise RunNotFoundError(_empty(storage))
    in_folder = [
        r
        for r in runs
        if r.machine_id is not None and fnmatch.fnmatchcase(r.machine_id, machine_glob)
    ]
    if machine_glob == "*":
        in_folder += [r for r in runs if r.machine_id is None]
    matches = [r for r in in_folder if _matches(r, pattern)]
    if not matches:
        raise RunNotFoundError(
            f"no saved run matches {spec!r} in {storage}; saved runs: {_listing(runs)}"
        )
    return _choose(spec, pattern, matches, storage)


def _matches(ref: RunRef, pattern: str) -> bool:
    pattern = pattern.removesuffix(".json")
    if pattern.isdigit():
        return ref.number is not None and int(ref.number) == int(pattern)
    if any(ch in pattern for ch in "*?["):
        return fnmatch.fnmatch(ref.stem.lower(), pattern.lower())
    return pattern.lower() in ref.stem.lower()


def _choose(
    spec: str, pattern: str, matches: list[RunRef], storage: Path
) -> tuple[RunRef, str | None]:
    """One of several matching runs: only when they are one saved name in one machine folder."""
    if len(matches) == 1:
        return matches[0], None
    exact = [r for r in matches if pattern.removesuffix(".json") in (r.name, r.stem)]
    pool = exact or matches
    folders = {r.machine_id for r in pool}
    names = {r.name for r in pool}
    if len(folders) > 1 or len(names) > 1:
        raise RunNotFoundError(
            f"{spec!r} matches {len(pool)} saved runs in {storage}: {_listing(pool)}; "
            "name one by number (with its machine folder, MACHINE/NNNN) or by path"
        )
    pool.sort(key=lambda r: (int(r.number) if r.number else -1, r.stem))
    if len(pool) == 1:
        return pool[0], None
    chosen, skipped = _latest_readable(pool, storage)
    return chosen, "; ".join(
        (
            *skipped,
            f"{spec!r} matches {len(pool)} runs saved as {chosen.name!r}; using the latest "
            f"readable one, {chosen.label} (name another by number)",
        )
    )


def _empty(storage: Path) -> str:
    return (
        f"no saved runs in {storage}; save one with `pytest bench/ --benchmark-save=NAME` "
        "or pass --storage DIR"
    )


def _listing(refs: Sequence[RunRef]) -> str:
    shown = ", ".join(r.label for r in refs[:_LISTED])
    more = len(refs) - _LISTED
    return shown + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class SavedRun:
    """One loaded run: its file, what pytest-benchmark recorded about it, and its ff-bench cases."""

    ref: RunRef
    digest: str  # sha256 of the file's bytes
    machine_info: dict[str, Any]
    commit_info: dict[str, Any]
    datetime: str
    version: str
    cases: tuple[Case, ...]
    ignored: tuple[str, ...]  # benchmarks in the file without ff-bench results
    scaling: tuple[ScalingPoint, ...] = ()  # the scaling benchmark's points, if it ran

    @property
    def label(self) -> str:
        """The run's label, as :attr:`RunRef.label`."""
        return self.ref.label

    @property
    def machine_id(self) -> str:
        """The machine folder, or pytest-benchmark's machine id rebuilt from ``machine_info``."""
        if self.ref.machine_id:
            return self.ref.machine_id
        info = self.machine_info
        version = ".".join(str(info.get("python_version", "?")).split(".")[:2])
        bits = info.get("cpu", {}).get("bits") if isinstance(info.get("cpu"), dict) else None
        return (
            f"{info.get('system', 'Unknown')}-{info.get('python_implementation', 'Unknown')}-"
            f"{version}-{bits or '?'}bit"
        )

    @property
    def ff_bench(self) -> dict[str, Any]:
        """The suite's own machine description (``machine_info["ff_bench"]``); empty if absent."""
        return machine.ff_bench(self.machine_info)

    @property
    def devices(self) -> list[str]:
        """Devices its cases ran on, each once, in order of first use."""
        return list(dict.fromkeys(c.device_label for c in self.cases))

    @property
    def recipes(self) -> list[str]:
        """Recipe names its cases ran, each once."""
        return list(dict.fromkeys(c.recipe_name for c in self.cases))


def load_run(ref: RunRef) -> SavedRun:
    """Read and check one saved run; a file that is not one is a one-line :class:`BadRunError`."""
    path = ref.path
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadRunError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRunError(f"{path} is not a saved pytest-benchmark run (not JSON: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BadRunError(
            f"{path} is not a saved pytest-benchmark run (no 'benchmarks' list); "
            "save runs with `pytest bench/ --benchmark-save=NAME`"
        )
    if not isinstance(data.get("machine_info"), dict):
        raise BadRunError(f"{path} is not a saved pytest-benchmark run (no 'machine_info')")
    cases: list[Case] = []
    ignored: list[str] = []
    label = ref.label
    when = str(data.get("datetime", ""))
    host_cpu = machine.cpu_model(data["machine_info"])
    scaling: list[ScalingPoint] = []
    for index, bench in enumerate(data["benchmarks"]):
        point = _scaling_point(path, index, bench)
        if point is not None:
            scaling.append(point)
            continue
        case = _case(path, label, when, index, bench, host_cpu)
        if case is None:
            name = bench.get("name") if isinstance(bench, dict) else None
            ignored.append(str(name or f"benchmark #{index}"))
        else:
            cases.append(case)
    if not cases and not scaling:
        raise BadRunError(
            f"{path} holds no ff-bench cases ({len(ignored)} benchmarks without ff-bench "
            f"{SCHEMA_VERSION} results); report runs saved from `pytest bench/`"
        )
    commit = data.get("commit_info")
    return SavedRun(
        ref=ref,
        digest=hashlib.sha256(raw).hexdigest(),
        machine_info=data["machine_info"],
        commit_info=commit if isinstance(commit, dict) else {},
        datetime=when,
        version=str(data.get("version", "")),
        cases=tuple(cases),
        ignored=tuple(ignored),
        scaling=tuple(scaling),
    )


def _scaling_point(path: Path, index: int, bench: Any) -> ScalingPoint | None:
    """The scaling benchmark's point of one saved benchmark; None for any other benchmark."""
    info = bench.get("extra_info") if isinstance(bench, dict) else None
    if not isinstance(info, dict) or info.get("schema") != SCALING_SCHEMA:
        return None
    try:
        return ScalingPoint.from_extra_info(info)
    except (KeyError, TypeError):
        raise BadRunError(
            f"{path}: benchmark #{index} is a damaged {SCALING_SCHEMA} record"
        ) from None


def load_runs(refs: Sequence[RunRef]) -> list[SavedRun]:
    """:func:`load_run` for each reference, in order."""
    return [load_run(r) for r in refs]


def _case(
    path: Path, label: str, when: str, index: int, bench: Any, host_cpu: str | None
) -> Case | None:
    """The ff-bench case of one saved benchmark; None when it has no ff-bench results."""
    if not isinstance(bench, dict):
        raise BadRunError(f"{path}: benchmark #{index} is not an object; the file is damaged")
    info = bench.get("extra_info")
    schema = info.get("schema") if isinstance(info, dict) else None
    if not isinstance(schema, str) or not schema.startswith("ff-bench/"):
        return None
    name = str(bench.get("name", f"benchmark #{index}"))
    assert isinstance(info, dict)  # schema came from it
    if schema not in READABLE_SCHEMAS:
        raise BadRunError(
            f"{path}: {name} was saved with result schema {schema!r}; this ff-bench reads "
            f"{', '.join(READABLE_SCHEMAS)} (use the ff-bench version that saved it)"
        )
    problems = validate(info)
    if problems:
        shown = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "")
        raise BadRunError(f"{path}: {name} does not follow {schema}: {shown}")
    for phase, epochs in info["compute"]["per_epoch"].items():
        if not isinstance(epochs, list) or not all(_number(s) for s in epochs):
            raise BadRunError(
                f"{path}: {name} compute.per_epoch.{phase} is not a list of seconds; "
                "the file is damaged"
            )
    stats = bench.get("stats")
    if not isinstance(stats, dict) or not isinstance(stats.get("mean"), int | float):
        raise BadRunError(f"{path}: {name} has no timing stats; the file is damaged")
    params = bench.get("params")
    return Case(
        run=label,
        run_datetime=when,
        name=name,
        fullname=str(bench.get("fullname", name)),
        params=params if isinstance(params, dict) else {},
        stats=stats,
        info=info,
        host_cpu=host_cpu,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
